"""``tuitrain run --detach``: training as a background process that outlives the terminal.

The child is a plain headless run in a new session (no controlling terminal, so closing
the terminal or dropping SSH sends it no SIGHUP), with its output in the run folder's
``output.log``. The parent waits until the child has created its run folder, then reports
it (and, by default, attaches a dashboard to it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tuitrain.runlog import read_pid
from tuitrain.runlog.runs import is_run_folder

OUTPUT_FILE = "output.log"


class DetachError(RuntimeError):
    """The background run did not start; the message includes the end of its output."""


def spawn(preset: str, *, logs_dir: Path, overrides: list[str] = (),
          preset_dirs: list[str] = (), timeout: float = 180.0) -> tuple[int, Path]:
    """Start ``tuitrain run PRESET --headless`` in the background; return (pid, run folder)."""
    logs_dir = Path(logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tuitrain", "run", str(preset), "--headless",
           "--logs-dir", str(logs_dir)]
    for o in overrides:
        cmd += ["--set", o]
    for d in preset_dirs:
        cmd += ["--dir", str(d)]
    out_path = logs_dir / f".detached-{os.getpid()}-{time.time_ns()}.log"
    env = {**os.environ, "TUITRAIN_DETACHED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    before = {p.name for p in logs_dir.iterdir()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folder = _folder_of(logs_dir, proc.pid, before)
        if folder is not None:
            try:
                out_path.rename(folder / OUTPUT_FILE)  # the child keeps writing to it
            except OSError:
                pass
            return proc.pid, folder
        if proc.poll() is not None:
            tail = out_path.read_text(errors="replace").strip().splitlines()[-5:]
            out_path.unlink(missing_ok=True)
            raise DetachError("the background run exited before it started: "
                              + (" | ".join(tail) or f"status {proc.returncode}"))
        time.sleep(0.2)  # waiting on another process's start-up: nothing to block on
    raise DetachError(f"the background run (pid {proc.pid}) did not create its run folder "
                      f"within {timeout:.0f} s; its output is in {out_path}")


def _folder_of(logs_dir: Path, pid: int, before: set[str]) -> Path | None:
    for p in logs_dir.iterdir():
        if p.name in before or not p.is_dir() or not is_run_folder(p):
            continue
        info = read_pid(p)
        if info and info[0] == pid:
            return p
    return None
