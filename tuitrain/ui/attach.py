"""AttachScreen: the live dashboard of a run that another process is training.

The screen loads the run folder (:func:`tuitrain.ui.replay.replay` of its :class:`RunLog`),
then follows the folder's event stream with a :class:`RunFollower` polled every
``POLL_S`` seconds, applying new events as the live dashboard applies the training
thread's. Its keys steer the run through the folder's control channel
(:class:`RemoteControl`, source ``viewer:<pid>``), so the run's own journal records who
did what. Quitting only closes the viewer: the run keeps going, and nothing is asked.
Any number of viewers can be attached at once; each has its own follower and channel
writer.

A run whose process dies without an end event becomes "crashed" once its pid is gone
and the follower has read everything it wrote.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from textual.binding import Binding

from tuitrain.runlog import RunFollower, RunLog, live_status
from tuitrain.runlog.channel import RemoteControl
from tuitrain.ui.replay import mark_crashed, replay
from tuitrain.ui.screens.dashboard import DashboardScreen

POLL_S = 0.2
ALIVE_CHECK_S = 1.0   # how often a silent run's process is checked


def viewer_source() -> str:
    return f"viewer:{os.getpid()}"


class AttachScreen(DashboardScreen):
    """The dashboard fed from a run folder; keys steer the run through its channel."""

    BINDINGS = [
        Binding("q", "quit", "Leave", id="run.quit",
                tooltip="Close this viewer; the run keeps going (tuitrain attach to come back)"),
    ]

    def __init__(self, folder: str | Path, *, logs_dir: str | Path = "logs",
                 log: RunLog | None = None, source: str | None = None, **kwargs):
        """``source`` names this viewer in the run's journal (default ``viewer:<pid>``)."""
        self.folder = Path(folder)
        log = log if log is not None else RunLog.load(self.folder)
        self.source = source or viewer_source()
        super().__init__(None, logs_dir=logs_dir, state=replay(log),
                         control=RemoteControl(self.folder, source=self.source), **kwargs)
        self.follower = RunFollower(self.folder, offset=log.end_offset)
        self._quiet_since = time.monotonic()
        self._alive_checked = 0.0

    @property
    def run_dir(self) -> Path:
        return self.folder

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = f"attached · {self.folder.name}"
        self.set_interval(POLL_S, self.poll)
        if self.state.live:
            self.app.notify(f"Attached to {self.folder.name}: keys steer it; q leaves the viewer "
                            "and the run keeps going.", title="Attach", timeout=6)

    def on_unmount(self) -> None:
        self.follower.close()

    def poll(self) -> int:
        """Apply the events written since the last poll; return how many."""
        events = self.follower.poll()
        if events:
            self._apply(events)
            self._quiet_since = time.monotonic()
        elif self.state.live or self.state.state == "starting":
            self._check_alive()
        return len(events)

    def _check_alive(self) -> None:
        now = time.monotonic()
        if now - self._alive_checked < ALIVE_CHECK_S:
            return
        self._alive_checked = now
        if live_status(self.folder, None) != "crashed":
            return
        # The writer removes its pid file only after its last flush: read what is left.
        while events := self.follower.poll():
            self._apply(events)
        if not self.state.ended:
            mark_crashed(self.state, self.state.last_t or time.time())
            self.app.last_status = "crashed"
            self.refresh_bindings()
            self._redraw(self.state.take_changes() | {"header"})

    def _apply(self, events: list) -> None:
        super()._apply(events)
        if self.state.ended:
            self.app.last_status = self.state.state

    def action_quit(self) -> None:
        # Never stops the run, never asks: the run lives in another process.
        self.app.exit(message=self.leave_message())

    def leave_message(self) -> str:
        if self.state.live:
            return (f"Left {self.folder.name}; the run keeps going "
                    f"(tuitrain attach {self.folder.name} to come back).")
        return f"{self.folder.name}: {self.state.state}."
