"""The thread boundary: the training thread's sink and the message it posts to the UI.

The engine calls :class:`BatchingSink` with every event, in the training thread. The sink
never touches widgets and never waits on the UI: it appends to a buffer and posts one
:class:`EventsBatch` message about every ``interval`` seconds (``post_message`` is
thread-safe). Events the user must see at once (run start/end, controls, alerts) flush
the buffer immediately. The UI's redraw timer also calls :meth:`BatchingSink.flush`, so the
last events before a long pause in training (evaluation, a slow step) are not held back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from textual.message import Message

from tuitrain.engine.events import Event

_URGENT = {"run_started", "run_ended", "control", "alert", "checkpoint"}


@dataclass
class EventsBatch(Message):
    """Events from the training thread, in order (not frozen: Textual sets attributes)."""

    events: list[Event]


class BatchingSink:
    """A sink for the trainer that batches events into messages for the UI."""

    def __init__(self, post: Callable[[list[Event]], object], interval: float = 0.1,
                 also: Callable[[Event], object] | None = None):
        self._post = post
        self._also = also
        self.interval = interval
        self._buf: list[Event] = []
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self.posted = 0     # batches posted (benchmarks read it)
        self.events = 0     # events seen

    def __call__(self, event: Event) -> None:
        if self._also is not None:
            self._also(event)
        with self._lock:
            self._buf.append(event)
            self.events += 1
            now = time.monotonic()
            if event.kind in _URGENT or now - self._last >= self.interval:
                self._flush_locked(now)

    def flush(self) -> None:
        """Post whatever is buffered (called from either thread)."""
        with self._lock:
            if self._buf:
                self._flush_locked(time.monotonic())

    def _flush_locked(self, now: float) -> None:
        # Posting under the lock keeps batches in order when both threads flush.
        batch, self._buf = self._buf, []
        self._last = now
        self.posted += 1
        self._post(batch)
