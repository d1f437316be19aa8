"""Listing and finding runs under a logs folder, cheaply.

``list_runs`` summarizes each run folder without parsing its step lines: the first line
(run start), the last few kilobytes (run end, last timestamp) and the epoch lines, found
through ``index.bin`` or by a byte search for the writer's ``{"kind": "epoch_end"`` prefix. ``find_run`` resolves what a
user types (a path, a folder name, a unique prefix of the name or of its preset part,
``latest``) to a folder, or raises ``RunNotFound`` with a one-line reason.
"""

from __future__ import annotations

import math
import mmap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuitrain.engine.events import EpochEnd, RunEnded, RunStarted
from tuitrain.runlog.codec import (COMMIT, EVENTS_FILE, INDEX_DTYPE, INDEX_FILE, KIND_CODES,
                                   PRESET_FILE, parse_line)
from tuitrain.runlog.reader import live_status, read_preset
from tuitrain.runlog.writer import TIMESTAMP_FORMAT

_EPOCH_MARK = b'\n{"kind": "epoch_end"'
_TAIL_BYTES = 1 << 16
_STAMP_LEN = len("2024-01-31_12-00-00")


class RunNotFound(LookupError):
    """A run name or path that matches no run folder (or several)."""


@dataclass
class RunSummary:
    """One line of ``tuitrain runs``."""

    name: str
    folder: Path
    preset_name: str
    chapter: str | None
    status: str                        # finished/stopped/failed/interrupted/running/crashed
    epochs_done: int
    epochs_total: int | None
    best_val_accuracy: float | None
    duration_s: float | None
    started_at: float                  # unix time

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["folder"] = str(self.folder)
        return d


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / EVENTS_FILE).exists() or (path / PRESET_FILE).exists())


def _stamp_time(name: str) -> float | None:
    try:
        return time.mktime(time.strptime(name[:_STAMP_LEN], TIMESTAMP_FORMAT))
    except ValueError:
        return None


def _preset_part(name: str) -> str:
    return name[_STAMP_LEN + 1:] if _stamp_time(name) is not None else name


def _first_event(path: Path):
    try:
        with open(path, "rb") as f:
            line = f.readline()
    except OSError:
        return None
    return parse_line(line) if line.endswith(b"\n") else None


def _tail_events(path: Path, size: int) -> list:
    with open(path, "rb") as f:
        start = max(0, size - _TAIL_BYTES)
        f.seek(start)
        lines = f.read().split(b"\n")
    if start > 0:
        lines = lines[1:]          # begins mid-line
    lines = lines[:-1]             # empty after the last newline, or a torn line
    return [e for e in map(parse_line, lines) if e is not None]


def _epoch_events(folder: Path, path: Path, size: int) -> list[EpochEnd]:
    """Epoch lines: where index.bin lists them, by seek; after its last commit, by search."""
    lines = np.empty(0, INDEX_DTYPE)
    start = 0
    try:
        idx = np.fromfile(folder / INDEX_FILE, INDEX_DTYPE)
    except (OSError, ValueError):
        idx = np.empty(0, INDEX_DTYPE)
    commits = np.flatnonzero((idx["kind"] == COMMIT) & (idx["offset"] <= size))
    if len(commits):
        start = int(idx["offset"][commits[-1]])
        lines = idx[: commits[-1]][idx["kind"][: commits[-1]] == KIND_CODES["epoch_end"]]
    out: list[EpochEnd] = []
    with open(path, "rb") as f:
        for offset, length in lines[["offset", "length"]].tolist():
            f.seek(offset)
            out.append(parse_line(f.read(length)))
        if start < size:
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
                at = mm.find(_EPOCH_MARK, max(start - 1, 0))
                while at >= 0:
                    end = mm.find(b"\n", at + 1)
                    if end < 0:
                        break  # torn last line
                    out.append(parse_line(mm[at + 1:end]))
                    at = mm.find(_EPOCH_MARK, end)
    return [e for e in out if isinstance(e, EpochEnd)]


def summarize(folder: str | Path) -> RunSummary:
    """The summary of one run folder, reading only its first line, tail and epoch lines."""
    folder = Path(folder)
    preset = read_preset(folder)
    path = folder / EVENTS_FILE
    size = path.stat().st_size if path.exists() else 0
    started = _first_event(path) if size else None
    started = started if isinstance(started, RunStarted) else None
    tail = _tail_events(path, size) if size else []
    ended = next((e for e in reversed(tail) if isinstance(e, RunEnded)), None)
    epochs = _epoch_events(folder, path, size) if size else []
    if started is not None:
        started_at = started.t
    else:
        started_at = _stamp_time(folder.name) or folder.stat().st_mtime
    last_t = ended.t if ended else (tail[-1].t if tail else None)
    val = [e.metrics.get("val_accuracy") for e in epochs]
    val = [v for v in val if isinstance(v, (int, float)) and math.isfinite(v)]
    total = started.epochs if started else preset.get("train", {}).get("epochs")
    return RunSummary(
        name=folder.name,
        folder=folder,
        preset_name=str(preset.get("name") or (started and started.preset.get("name"))
                        or _preset_part(folder.name)),
        chapter=preset.get("chapter"),
        status=live_status(folder, ended),
        epochs_done=len({e.epoch for e in epochs}),
        epochs_total=total,
        best_val_accuracy=max(val) if val else None,
        duration_s=(last_t - started_at) if last_t is not None else None,
        started_at=started_at,
    )


def _run_folders(logs_dir: Path) -> list[Path]:
    if not logs_dir.is_dir():
        return []
    return [p for p in logs_dir.iterdir() if is_run_folder(p)]


def list_runs(logs_dir: str | Path) -> list[RunSummary]:
    """Summaries of the runs in ``logs_dir``, newest first ([] if there is no such folder)."""
    summaries = [summarize(p) for p in _run_folders(Path(logs_dir))]
    summaries.sort(key=lambda s: (s.started_at, s.name), reverse=True)
    return summaries


def find_run(logs_dir: str | Path, name_or_path: str | Path = "latest", *,
             live: bool = False) -> Path:
    """The run folder a user means.

    Accepts a run folder path, a folder name in ``logs_dir``, a unique prefix of a folder
    name or of its preset part (``R01`` for ``2024-..._R01-selu``), or ``latest`` (with
    ``live=True``: the newest run that is still running).
    """
    logs_dir = Path(logs_dir)
    query = str(name_or_path)
    as_path = Path(name_or_path)
    if is_run_folder(as_path) and (as_path.is_absolute() or len(as_path.parts) > 1
                                   or not (logs_dir / query).exists()):
        return as_path
    if query == "latest":
        runs = list_runs(logs_dir)
        if live:
            runs = [r for r in runs if r.status == "running"]
        if not runs:
            raise RunNotFound(f"{logs_dir}: no {'live ' if live else ''}runs")
        return runs[0].folder
    folders = sorted(_run_folders(logs_dir), key=lambda p: p.name, reverse=True)
    for p in folders:
        if p.name == query:
            return p
    for matches in ([p for p in folders if p.name.startswith(query)],
                    [p for p in folders if _preset_part(p.name).startswith(query)]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:4])
            more = f" and {len(matches) - 4} more" if len(matches) > 4 else ""
            raise RunNotFound(f"{query!r} matches {len(matches)} runs in {logs_dir}: "
                              f"{names}{more}; give more of the name")
    raise RunNotFound(f"no run {query!r} in {logs_dir} (try `tuitrain runs`)")
