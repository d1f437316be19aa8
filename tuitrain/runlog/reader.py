"""The run-log reader: ``RunLog``, a whole run folder (``follow``: a live tail).

``RunLog.load`` takes the step columns from ``steps.bin`` and the positions of the other
lines from ``index.bin`` (see ``codec``) up to the index's last commit, then reads only the
text after it (normally nothing, or the last second of a crashed run). Without a usable
index, the whole of ``events.jsonl`` is scanned as text (``scan``). Either way:

* ``steps`` are numpy columns (about 100 bytes per step), not a million objects;
* gradient-stat lines are indexed (offset, length, step) and parsed on demand: decimated
  (``grad_series``) or one at a time (``grad_at``, for a cursor);
* the other events (start, epochs, controls, alerts, checkpoints, evaluation, end) are
  objects in ``journal``; a torn last line and blank lines are skipped and unknown kinds
  (a newer writer) ignored.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from tuitrain.engine.events import (STAT_COLUMNS, Alert, Checkpoint, ControlApplied, EpochEnd,
                                    Evaluated, Event, GradStats, RunEnded, RunStarted,
                                    not_core)
from tuitrain.runlog.codec import (COMMIT, EVENTS_FILE, GRAD_CODE, INDEX_DTYPE, INDEX_FILE,
                                   PRESET_FILE, STEP_COLUMNS, STEPS_FILE, decode_event)
from tuitrain.runlog.follow import iter_events
from tuitrain.runlog.scan import GRAD_PREFIX, Scan, scan_events
from tuitrain.runlog.writer import process_alive, read_pid

_INT_COLUMNS = {"step", "epoch"}


def live_status(folder: str | Path, ended: RunEnded | None) -> str:
    """The run's status: its end event's, else "running" / "crashed" from the pid file."""
    if ended is not None:
        return ended.status
    pid = read_pid(folder)
    return "running" if pid is not None and process_alive(*pid) else "crashed"


def read_preset(folder: Path) -> dict[str, Any]:
    try:
        with open(folder / PRESET_FILE, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _complete_end(f: BinaryIO, size: int) -> int:
    """Bytes of complete lines in ``f``: up to and including its last newline."""
    pos = size
    while pos > 0:
        n = min(1 << 16, pos)
        f.seek(pos - n)
        i = f.read(n).rfind(b"\n")
        if i >= 0:
            return pos - n + i + 1
        pos -= n
    return 0


def _from_index(folder: Path, f: BinaryIO, scan: Scan) -> int | None:
    """Fill ``scan`` from the binary index; the offset where text reading resumes.

    None when there is no index or it disagrees with events.jsonl (then scan it all).
    """
    try:
        idx = np.fromfile(folder / INDEX_FILE, INDEX_DTYPE)
    except (OSError, ValueError):
        return None
    end = _complete_end(f, os.fstat(f.fileno()).st_size)
    commits = np.flatnonzero((idx["kind"] == COMMIT) & (idx["offset"] <= end))
    if not len(commits):
        return None
    last = commits[-1]
    upto, n_steps = int(idx["offset"][last]), int(idx["steps"][last])
    width = len(STEP_COLUMNS)
    try:
        table = np.fromfile(folder / STEPS_FILE, "<f8", count=n_steps * width)
    except (OSError, ValueError):
        return None
    if table.size != n_steps * width:
        return None
    lines = idx[:last][idx["kind"][:last] != COMMIT]
    grads = lines[lines["kind"] == GRAD_CODE]
    if len(grads):  # spot check: the index points at gradient lines
        f.seek(int(grads["offset"][-1]))
        if f.read(len(GRAD_PREFIX)) != GRAD_PREFIX:
            return None
    for offset, length in lines[lines["kind"] != GRAD_CODE][["offset", "length"]].tolist():
        f.seek(offset)
        try:
            d = json.loads(f.read(length))
        except ValueError:
            return None  # the index points at something that is not a line
        event = decode_event(d) if isinstance(d, dict) else None
        if event is not None:  # None: a kind this version does not know
            scan.journal.append(event)
    scan.step_parts.append(table.reshape(n_steps, width))
    scan.g_off += grads["offset"].tolist()
    scan.g_len += grads["length"].tolist()
    scan.g_step += grads["step"].tolist()
    return upto


@dataclass
class GradSeries:
    """Gradient statistics over time: ``values[i, layer, column]`` at ``steps[i]``."""

    steps: np.ndarray    # int64 [n]
    epochs: np.ndarray   # int64 [n]
    values: np.ndarray   # float32 [n, n_layers, n_columns]
    frozen: np.ndarray   # bool [n, n_layers]
    columns: list[str]
    layers: list[str]
    core_only: np.ndarray | None = None   # bool [n]: the costlier figures carried forward


@dataclass
class RunLog:
    """Everything in one run folder; see the module docstring for what is eager or lazy."""

    folder: Path
    preset: dict[str, Any]
    started: RunStarted | None
    ended: RunEnded | None
    steps: dict[str, np.ndarray]  # STEP_COLUMNS -> column; step/epoch int64, clipped bool
    journal: list[Event]          # every event except Step and GradStats, in file order
    grad_steps: np.ndarray        # int64: the steps that have gradient stats
    end_offset: int               # bytes of complete lines read (RunFollower starts here)
    torn: bool                    # whether an unfinished last line was dropped
    _grad_offsets: np.ndarray
    _grad_lengths: np.ndarray

    @classmethod
    def load(cls, folder: str | Path, *, use_index: bool = True) -> "RunLog":
        """Read a run folder (finished, crashed, or still being written)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: not a run folder")
        scan = Scan()
        end_offset, torn = 0, False
        if (folder / EVENTS_FILE).exists():
            with open(folder / EVENTS_FILE, "rb") as f:
                start = _from_index(folder, f, scan) if use_index else None
                if start is None:
                    scan = Scan()
                end_offset, torn = scan_events(f, start or 0, scan)
        table = scan.steps_table()
        steps = {name: (table[:, i].astype(np.int64) if name in _INT_COLUMNS
                        else table[:, i] == 1.0 if name == "clipped" else table[:, i].copy())
                 for i, name in enumerate(STEP_COLUMNS)}
        del table
        journal = scan.journal
        started = next((e for e in journal if isinstance(e, RunStarted)), None)
        ended = next((e for e in reversed(journal) if isinstance(e, RunEnded)), None)
        preset = read_preset(folder) or (dict(started.preset) if started else {})
        return cls(folder, preset, started, ended, steps, journal,
                   np.array(scan.g_step, dtype=np.int64), end_offset, torn,
                   np.array(scan.g_off, dtype=np.int64), np.array(scan.g_len, dtype=np.int64))

    # --- derived views -----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def layers(self) -> list[str]:
        return list(self.started.layers) if self.started else []

    @property
    def status(self) -> str:
        """finished / stopped / failed / interrupted, else running or crashed."""
        return live_status(self.folder, self.ended)

    def _of(self, kind: type) -> list:
        return [e for e in self.journal if isinstance(e, kind)]

    @property
    def epochs(self) -> list[EpochEnd]:
        return self._of(EpochEnd)

    @property
    def controls(self) -> list[ControlApplied]:
        return self._of(ControlApplied)

    @property
    def alerts(self) -> list[Alert]:
        return self._of(Alert)

    @property
    def checkpoints(self) -> list[Checkpoint]:
        return self._of(Checkpoint)

    @property
    def evaluated(self) -> list[Evaluated]:
        return self._of(Evaluated)

    @cached_property
    def events(self) -> list[Event]:
        """Every event in file order, Steps and GradStats included (costly for huge logs)."""
        return list(iter_events(self.folder))

    # --- gradient statistics -----------------------------------------------------------
    def _read_grad_dicts(self, idx: np.ndarray) -> Iterator[dict[str, Any]]:
        with open(self.folder / EVENTS_FILE, "rb") as f:
            for i in idx:
                f.seek(int(self._grad_offsets[i]))
                yield json.loads(f.read(int(self._grad_lengths[i])))

    def grad_events(self, idx: np.ndarray | None = None) -> Iterator[GradStats]:
        """The GradStats of the given samples (indices into ``grad_steps``; all by
        default), read from the file one line at a time."""
        if idx is None:
            idx = np.arange(len(self.grad_steps))
        for d in self._read_grad_dicts(idx):
            event = decode_event(d)
            if isinstance(event, GradStats):
                yield event

    @cached_property
    def grad_stats(self) -> list[GradStats]:
        """All GradStats events (costly for huge logs: prefer grad_series / grad_at)."""
        return list(self.grad_events())

    def grad_at(self, step: int) -> GradStats | None:
        """The latest GradStats at or before ``step`` (None before the first).

        A core-only sample gets the costlier figures of the latest full one before it
        (what the live table shows at that step); ``core_only`` stays True.
        """
        found = self.grad_sample(step)
        return None if found is None else found[0]

    def grad_sample(self, step: int) -> tuple[GradStats, int | None] | None:
        """:meth:`grad_at`, and the step of the full sample whose costlier figures a
        core-only sample carries (None for a full sample, or when there is none before)."""
        i = int(np.searchsorted(self.grad_steps, step, side="right")) - 1
        if i < 0:
            return None
        event = decode_event(next(self._read_grad_dicts(np.array([i]))))
        if not isinstance(event, GradStats):
            return None
        if not event.core_only:
            return event, None
        # The latest full sample before it, reading back through one open file.
        d = next((d for d in self._read_grad_dicts(np.arange(i - 1, -1, -1))
                  if not d.get("core_only")), None)
        earlier = decode_event(d) if d is not None else None
        if isinstance(earlier, GradStats) and len(earlier.values) == len(event.values):
            keep = set(not_core(event.columns))
            event = replace(event, values=[
                [old[c] if c in keep else v for c, v in enumerate(row)]
                for row, old in zip(event.values, earlier.values)])
            return event, earlier.step
        return event, None

    def _full_samples(self) -> np.ndarray:
        """Indices of the samples the engine took in full, from the preset's cadence
        (every ``stats.full_every`` steps; a guess for choosing samples, not a record)."""
        stats = self.preset.get("stats") or {}
        every, full = int(stats.get("every", 10) or 1), int(stats.get("full_every", 1) or 1)
        m = max(1, -(-full // every))
        return np.arange(0, len(self.grad_steps), m)

    def grad_series(self, max_samples: int | None = None) -> GradSeries:
        """Gradient stats as arrays, evenly decimated to at most ``max_samples`` samples."""
        n = len(self.grad_steps)
        idx = np.arange(n)
        if max_samples is not None and n > max_samples:
            # From the full samples when there are enough of them: every column measured.
            full = self._full_samples()
            pool = full if len(full) >= max_samples else idx
            idx = pool[np.unique(np.linspace(0, len(pool) - 1, max(max_samples, 1))
                                 .round().astype(np.int64))]
        n_layers = len(self.layers)
        columns = list(STAT_COLUMNS)
        values = frozen = None
        epochs = np.zeros(len(idx), dtype=np.int64)
        core_only = np.zeros(len(idx), dtype=bool)
        keep = None   # the columns a core-only sample carries forward
        for row, d in enumerate(self._read_grad_dicts(idx)):
            v = np.asarray(d.get("values") or [], dtype=np.float32)
            if values is None:
                columns = list(d.get("columns") or columns)
                n_layers = v.shape[0] if v.ndim == 2 else n_layers
                values = np.full((len(idx), n_layers, len(columns)), np.nan, np.float32)
                frozen = np.zeros((len(idx), n_layers), dtype=bool)
            if v.shape == values.shape[1:]:
                values[row] = v
                if d.get("core_only") and row:   # the costlier figures: the last ones taken
                    keep = not_core(columns) if keep is None else keep
                    values[row][:, keep] = values[row - 1][:, keep]
                    core_only[row] = True
            fz = d.get("frozen") or []
            if len(fz) == n_layers:
                frozen[row] = fz
            epochs[row] = d.get("epoch", 0)
        if values is None:
            values = np.empty((0, n_layers, len(columns)), np.float32)
            frozen = np.zeros((0, n_layers), dtype=bool)
        return GradSeries(self.grad_steps[idx], epochs, values, frozen, columns, self.layers,
                          core_only)
