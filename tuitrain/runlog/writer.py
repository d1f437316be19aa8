"""The run-log writer: one folder per run, written while training, safe to kill.

``RunWriter`` creates ``logs/<YYYY-MM-DD_HH-MM-SS>_<name>/`` (``-2``, ``-3`` on a clash)
with ``preset.toml`` (the resolved preset as run), a ``pid`` file naming the training
process (removed on close; with the process start time, so a reused pid is not taken for
a live run), and the event stream (``events.jsonl`` plus its binary index, see
``codec``). The engine writes ``model.keras`` and ``checkpoints/`` at the paths exposed.

``emit`` only appends the event to a deque, so the training thread pays well under a
microsecond per event; a daemon thread serializes and writes at least every
``flush_interval`` seconds, so a paused or stuck run's events reach the OS within a second
and ``kill -9`` loses at most that much.
"""

from __future__ import annotations

import atexit
import collections
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from tuitrain.engine.events import Event, Step
from tuitrain.runlog.codec import (CHECKPOINT_DIR, EVENTS_FILE, INDEX_FILE, MODEL_FILE,
                                   PID_FILE, PRESET_FILE, STEPS_FILE, commit_record,
                                   encode_event, index_record, step_record)

TIMESTAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"


def safe_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a folder name on every OS."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return cleaned or "run"


def _make_run_folder(logs_dir: Path, name: str) -> Path:
    logs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime(TIMESTAMP_FORMAT)}_{safe_name(name)}"
    for n in range(1, 10_000):
        folder = logs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()  # atomic: two writers racing for a name never share a folder
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"{logs_dir}: too many runs named {base}")


def _toml_safe(obj: Any) -> Any:
    # TOML has no null: a None field is left out (the preset's default applies on reload).
    if isinstance(obj, dict):
        return {str(k): _toml_safe(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [_toml_safe(v) for v in obj if v is not None]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def process_start_time(pid: int) -> str:
    """Start time of ``pid`` from /proc (clock ticks since boot), "" where unavailable.

    Stored next to the pid so that a reused pid is not mistaken for the run's process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def read_pid(folder: str | Path) -> tuple[int, str] | None:
    """(pid, process start time) from the run's pid file, None if there is none."""
    try:
        parts = (Path(folder) / PID_FILE).read_text().split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else "")
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, start_time: str = "") -> bool:
    """Whether ``pid`` runs and is the same process (start time) the pid file named."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust kill()
    if state in ("Z", "X"):  # killed but not yet reaped by its parent
        return False
    return not start_time or process_start_time(pid) == start_time


class RunWriter:
    """Writes one run's folder; thread-safe ``emit``; usable as a context manager."""

    def __init__(self, logs_dir: str | Path, preset_dict: dict, name: str, *,
                 flush_interval: float = 0.5) -> None:
        self.folder: Path = _make_run_folder(Path(logs_dir), name)
        self.name: str = self.folder.name
        self.events_path: Path = self.folder / EVENTS_FILE
        self.model_path: Path = self.folder / MODEL_FILE
        self.checkpoint_dir: Path = self.folder / CHECKPOINT_DIR
        self.preset_path: Path = self.folder / PRESET_FILE
        self.pid_path: Path = self.folder / PID_FILE
        self.preset_path.write_text(tomli_w.dumps(_toml_safe(preset_dict)))
        pid = os.getpid()
        self.pid_path.write_text(f"{pid}\n{process_start_time(pid)}\n")
        self._file = open(self.events_path, "ab")
        self._steps_file = open(self.folder / STEPS_FILE, "ab")
        self._index_file = open(self.folder / INDEX_FILE, "ab")
        self._offset = 0  # bytes in events.jsonl
        self._n_steps = 0  # records in steps.bin
        self._pending: collections.deque[Event] = collections.deque()
        self._lock = threading.Lock()  # serializes writers: the flusher and explicit flush()
        self._closed = False              # close() has begun: emit refuses
        self._done = threading.Event()    # close() has finished: all on disk
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._interval = flush_interval
        self._thread = threading.Thread(target=self._flush_loop, daemon=True,
                                        name=f"runlog-flush-{self.name}")
        self._thread.start()
        # A run that exits without close() (an uncaught error in the caller) still gets
        # its buffered events written; the pid file goes, so it reads as "crashed".
        atexit.register(self.close)

    def emit(self, event: Event) -> None:
        """Queue ``event``; written by the flusher thread within ``flush_interval``."""
        if self._error is not None:
            raise RuntimeError(f"{self.events_path}: writing failed: {self._error}")
        if self._closed:
            raise RuntimeError(f"{self.events_path}: emit after close")
        self._pending.append(event)

    def flush(self) -> None:
        """Write every queued event to the file and hand it to the OS."""
        with self._lock:
            if self._file.closed:
                return
            lines: list[bytes] = []
            steps: list[bytes] = []
            index: list[bytes] = []
            offset, n_steps = self._offset, self._n_steps
            pending = self._pending
            while pending:
                event = pending.popleft()
                line = (encode_event(event) + "\n").encode()
                if type(event) is Step:
                    steps.append(step_record(event))
                    n_steps += 1
                else:
                    index.append(index_record(event, offset, len(line) - 1, n_steps))
                lines.append(line)
                offset += len(line)
            if not lines:
                return
            index.append(commit_record(offset, n_steps))
            # Index files first: a reader trusts them only up to a commit whose lines are
            # all in events.jsonl, so a kill between these writes costs nothing.
            for f, data in ((self._steps_file, steps), (self._index_file, index),
                            (self._file, lines)):
                if data:
                    f.write(b"".join(data))
                    f.flush()
            self._offset, self._n_steps = offset, n_steps

    def close(self) -> None:
        """Flush, fsync, remove the pid file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._stop.set()
        try:
            if self._thread is not threading.current_thread():
                self._thread.join()
            self.flush()
            with self._lock:
                for f in (self._steps_file, self._index_file, self._file):
                    os.fsync(f.fileno())
                    f.close()
        finally:
            self.pid_path.unlink(missing_ok=True)
            self._done.set()
        if self._error is not None:
            raise RuntimeError(f"{self.events_path}: writing failed: {self._error}")

    @property
    def closed(self) -> bool:
        """True once close() has finished: every event is in the files, fsynced."""
        return self._done.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait (from another thread) until close() has finished; False on timeout."""
        return self._done.wait(timeout)

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # disk full, permissions: surfaced by emit/close
                self._error = exc
                return

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
