"""Streaming reads of ``events.jsonl``: every event in file order (``iter_events``) and a
live tail of a run that another process is writing (``RunFollower``, used by attach).

Both skip a torn (half-written) last line and events of unknown kinds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from tuitrain.engine.events import Event
from tuitrain.runlog.codec import EVENTS_FILE, parse_line


def iter_events(folder: str | Path) -> Iterator[Event]:
    """Every event of a run folder in file order, streaming (a torn last line is skipped)."""
    path = Path(folder) / EVENTS_FILE
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n") and line.strip():
                event = parse_line(line)
                if event is not None:
                    yield event


class RunFollower:
    """Follows ``events.jsonl`` while another process writes it.

    ``poll`` returns the events of the complete lines written since the last poll; a
    half-written last line waits for its end. ``offset`` (e.g. ``RunLog.end_offset``) skips
    what a ``RunLog`` already read.
    """

    def __init__(self, folder: str | Path, *, offset: int = 0,
                 max_bytes: int = 1 << 26) -> None:
        self.path = Path(folder) / EVENTS_FILE
        self.offset = offset          # bytes of complete lines consumed
        self._partial = b""
        self._file = None
        self._max_bytes = max_bytes   # per poll, so a viewer catching up stays responsive

    def poll(self) -> list[Event]:
        if self._file is None:
            try:
                self._file = open(self.path, "rb")
            except FileNotFoundError:
                return []
            self._file.seek(self.offset)
        new = self._file.read(self._max_bytes)
        if not new:
            return []
        data = self._partial + new
        lines = data.split(b"\n")
        self._partial = lines.pop()
        self.offset += len(data) - len(self._partial)
        events = []
        for line in lines:
            if line.strip():
                event = parse_line(line)
                if event is not None:
                    events.append(event)
        return events

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "RunFollower":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
