"""The control channel of a run folder: how other processes steer a run.

A viewer (``tuitrain attach``, a second terminal, a script) appends validated commands as
JSON lines to ``control.jsonl`` in the run folder; the training process follows that file
and feeds each command into its :class:`~tuitrain.engine.control.Control`. Appends of one
short line with ``O_APPEND`` do not interleave, so several viewers can steer at once, and
the file doubles as a record of who asked for what.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tuitrain.engine.control import Command, CommandSender, Control, ControlError, validate_command

CONTROL_FILE = "control.jsonl"


class RemoteControl(CommandSender):
    """Sends commands to the run living in ``folder`` (possibly another process)."""

    def __init__(self, folder: str | Path, source: str | None = None):
        self.path = Path(folder) / CONTROL_FILE
        self.default_source = source or f"viewer:{os.getpid()}"

    def send(self, name: str, source: str = "api", **args: Any) -> Command:
        src = self.default_source if source in ("api", "ui") else source
        cmd = Command(name, validate_command(name, args), src)
        line = json.dumps({"name": cmd.name, "args": cmd.args, "source": cmd.source}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return cmd


class ChannelListener:
    """Follows ``control.jsonl`` from a daemon thread and forwards commands to ``control``."""

    def __init__(self, folder: str | Path, control: Control, interval: float = 0.2):
        self.path = Path(folder) / CONTROL_FILE
        self.control = control
        self.interval = interval
        self._offset = 0
        self._partial = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tuitrain-channel", daemon=True)

    def start(self) -> "ChannelListener":
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> int:
        """Forward the commands appended since the last poll; return how many."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return 0
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        sent = 0
        for raw in lines:
            try:
                rec = json.loads(raw)
                self.control.send(rec["name"], rec.get("source", "viewer"), **rec.get("args", {}))
                sent += 1
            except (ValueError, KeyError, TypeError, ControlError):
                continue  # a malformed line must never disturb the run
        return sent
