"""The ``tuitrain`` command line: ``run``, ``presets list|show|validate|schema``, and the UI.

Every :class:`~tuitrain.preset.PresetError` ends the command with one line on stderr,
``tuitrain: error: <file>: <field>: <reason>``, and exit status 2, never a traceback.
Training and the dashboard live in modules that may not be installed yet
(``tuitrain.headless``, ``tuitrain.ui.app``); the CLI looks them up when it needs them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

from tuitrain import __version__
from tuitrain.catalog import list_presets, resolve_preset, shipped_presets_dir
from tuitrain.cli_runs import add_commands as add_run_commands
from tuitrain.cli_format import preset_table, preset_toml, schema_text
from tuitrain.preset import PresetError, load_preset

EXIT_OK, EXIT_USAGE = 0, 2


def _optional(module: str):
    """Import a module of tuitrain that a later part of the project provides, or None."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    # Present but broken is a real bug: let its ImportError surface.
    return importlib.import_module(module)


def _warn(source: object, notes: list[str]) -> None:
    for note in notes:
        print(f"warning: {source}: {note}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    parser = argparse.ArgumentParser(
        prog="tuitrain",
        description="Watch and steer the training of Keras networks in the terminal "
                    "(chapter 11 of Hands-On Machine Learning).",
    )
    parser.add_argument("--version", action="version", version=f"tuitrain {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="train a preset (dashboard, or --headless)")
    run.add_argument("preset", help="preset name (see `tuitrain presets list`) or .toml file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a field, e.g. --set optimizer.learning_rate=0.01 (repeatable)")
    run.add_argument("--headless", action="store_true",
                     help="no dashboard: print progress lines and write the run log")
    run.add_argument("--detach", action="store_true",
                     help="train in a background process that survives the terminal; "
                          "attach a dashboard to it unless --no-attach")
    run.add_argument("--no-attach", action="store_true",
                     help="with --detach: print the run's name and return")
    run.add_argument("--logs-dir", type=Path, default=Path("logs"), metavar="DIR",
                     help="where run folders are written (default: ./logs)")
    run.add_argument("--dir", dest="preset_dirs", action="append", default=[], metavar="DIR",
                     help="also look for presets in DIR (repeatable)")

    presets = sub.add_parser("presets", help="list, show, validate presets; print the schema")
    psub = presets.add_subparsers(dest="presets_command", metavar="ACTION", required=True)
    plist = psub.add_parser("list", help="every preset: name, chapter run, origin, description")
    plist.add_argument("--dir", dest="preset_dirs", action="append", default=[], metavar="DIR",
                       help="also list the presets in DIR (repeatable)")
    show = psub.add_parser("show", help="a preset as complete TOML, defaults filled in")
    show.add_argument("preset", help="preset name or .toml file")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="show the preset with this override applied (repeatable)")
    show.add_argument("--dir", dest="preset_dirs", action="append", default=[], metavar="DIR",
                      help="also look for presets in DIR (repeatable)")
    validate = psub.add_parser("validate", help="check preset files; exit 2 if any is invalid")
    validate.add_argument("files", nargs="+", metavar="FILE", help="preset files (or names)")
    psub.add_parser("schema", help="print the JSON schema of preset files")
    add_run_commands(sub)
    return parser


def _cmd_presets_list(args: argparse.Namespace) -> int:
    entries = list_presets(args.preset_dirs)
    sys.stdout.write(preset_table(entries, shipped_presets_dir()))
    return EXIT_OK


def _cmd_presets_show(args: argparse.Namespace) -> int:
    path = resolve_preset(args.preset, args.preset_dirs)
    preset = load_preset(path, args.overrides)
    _warn(path, preset.advisories())
    sys.stdout.write(preset_toml(preset, path))
    return EXIT_OK


def _cmd_presets_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for item in args.files:
        try:
            path = resolve_preset(item)
            preset = load_preset(path)
        except PresetError as exc:
            print(f"tuitrain: error: {exc}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        print(f"{path}: ok")
        _warn(path, preset.advisories())
    return status


def _cmd_presets_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    path = resolve_preset(args.preset, args.preset_dirs)
    preset = load_preset(path, args.overrides)
    _warn(path, preset.advisories())
    if args.detach:
        return _cmd_detach(args, path)
    # The dashboard needs a terminal; without one (CI, pipes) the run is headless.
    headless = args.headless or not sys.stdout.isatty()
    if not headless:
        ui = _optional("tuitrain.ui.app")
        if ui is not None:
            args.preset_obj, args.preset_path = preset, path
            return ui.main_ui(args)
    engine = _optional("tuitrain.headless")
    if engine is None:
        print(f"preset {preset.name} is valid ({path}); training is not available in this "
              f"version yet")
        return EXIT_OK
    return engine.run_headless(preset, preset_path=path, logs_dir=args.logs_dir,
                               overrides=args.overrides)


def _cmd_detach(args: argparse.Namespace, path: Path) -> int:
    from tuitrain.detach import DetachError, spawn

    try:
        pid, folder = spawn(str(path), logs_dir=args.logs_dir, overrides=args.overrides,
                            preset_dirs=args.preset_dirs)
    except DetachError as exc:
        print(f"tuitrain: error: {exc}", file=sys.stderr)
        return 1
    print(f"{folder.name}  (pid {pid}; output in {folder / 'output.log'})")
    if args.no_attach or not sys.stdout.isatty():
        print(f"attach with: tuitrain attach {folder.name}")
        return EXIT_OK
    from tuitrain.ui.app import main_attach
    return main_attach(folder, logs_dir=args.logs_dir)


def _cmd_default(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    ui = _optional("tuitrain.ui.app")
    if ui is None:
        parser.print_help()
        return EXIT_OK
    return ui.main_ui(args)


_PRESET_COMMANDS = {
    "list": _cmd_presets_list,
    "show": _cmd_presets_show,
    "validate": _cmd_presets_validate,
    "schema": _cmd_presets_schema,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "presets":
            return _PRESET_COMMANDS[args.presets_command](args)
        if args.command == "run":
            return _cmd_run(args)
        if hasattr(args, "func"):
            return args.func(args)
        return _cmd_default(args, parser)
    except PresetError as exc:
        print(f"tuitrain: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tuitrain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tuitrain presets list | head`: the reader left; nothing more to say.
        sys.stderr.close()
        return EXIT_OK
