"""The run commands of the CLI: ``runs``, ``review``, ``attach`` and ``export``.

``runs`` and ``export`` need neither Textual nor TensorFlow (TensorBoard export imports
TensorFlow only when asked for); ``review`` and ``attach`` open the dashboard's views.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tuitrain.runlog import RunNotFound, find_run, list_runs

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the run commands on the CLI's subparsers (each sets ``func``)."""
    def logs_opt(p):
        p.add_argument("--logs-dir", type=Path, default=Path("logs"), metavar="DIR",
                       help="where run folders live (default: ./logs)")

    runs = sub.add_parser("runs", help="list the runs in the logs folder, newest first")
    runs.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    logs_opt(runs)
    runs.set_defaults(func=cmd_runs)

    review = sub.add_parser("review", help="open saved runs read-only; several: compare")
    review.add_argument("runs", nargs="+", metavar="RUN",
                        help="run folder, run name, unique prefix, or 'latest'")
    logs_opt(review)
    review.set_defaults(func=cmd_review)

    attach = sub.add_parser("attach", help="show and steer a live run of another process")
    attach.add_argument("run", nargs="?", default="latest", metavar="RUN",
                        help="run folder, name or prefix (default: the latest live run)")
    logs_opt(attach)
    attach.set_defaults(func=cmd_attach)

    export = sub.add_parser("export", help="export a run as CSV or TensorBoard event files")
    export.add_argument("run", metavar="RUN", help="run folder, name, prefix or 'latest'")
    export.add_argument("--format", choices=("csv", "tensorboard"), default="csv")
    export.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="output file (csv) or folder (tensorboard); default: in the run "
                             "folder")
    logs_opt(export)
    export.set_defaults(func=cmd_export)


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _duration(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def cmd_runs(args: argparse.Namespace) -> int:
    runs = list_runs(args.logs_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=1, default=str))
        return EXIT_OK
    if not runs:
        print(f"no runs in {args.logs_dir}/ yet: start one with `tuitrain run quickstart`")
        return EXIT_OK
    header = ("run", "preset", "status", "epochs", "best val acc", "duration", "when")
    rows = [(r.name, r.preset_name, r.status,
             f"{r.epochs_done}/{r.epochs_total or '?'}",
             "-" if r.best_val_accuracy is None else f"{r.best_val_accuracy:.4f}",
             _duration(r.duration_s), _when(r.started_at)) for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _resolve(args, query: str, live: bool = False) -> Path:
    try:
        return find_run(args.logs_dir, query, live=live)
    except RunNotFound as exc:
        print(f"tuitrain: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def cmd_review(args: argparse.Namespace) -> int:
    folders = [_resolve(args, q) for q in args.runs]
    from tuitrain.ui.app import main_review
    return main_review(folders, logs_dir=args.logs_dir)


def cmd_attach(args: argparse.Namespace) -> int:
    folder = _resolve(args, args.run, live=args.run == "latest")
    from tuitrain.ui.app import main_attach
    return main_attach(folder, logs_dir=args.logs_dir)


def cmd_export(args: argparse.Namespace) -> int:
    folder = _resolve(args, args.run)
    from tuitrain.runlog.export import export_csv, export_tensorboard
    if args.format == "csv":
        out = export_csv(folder, args.out)
    else:
        out = export_tensorboard(folder, args.out)
    print(out)
    return EXIT_OK
