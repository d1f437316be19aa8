"""A dropped SSH session (SIGHUP) or a SIGTERM while the dashboard trains.

The terminal is gone, so there is no one to ask: every live run in the app is asked to
stop after its current step (status "interrupted"), the handler waits until each run has
written its end event and closed its log, then the process exits. Without this the
default handler would kill the process mid-step and the run would read as "crashed".
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

WAIT_S = 60.0


def live_runners(app: Any) -> list[Any]:
    """The Trainer-like objects of the app's dashboards whose runs have not ended."""
    out = []
    for screen in getattr(app, "screen_stack", []):
        runner = getattr(screen, "runner", None)
        state = getattr(screen, "state", None)
        if runner is not None and state is not None and getattr(state, "live", False):
            out.append(runner)
    return out


def install(app: Any) -> None:
    """Handle SIGHUP and SIGTERM for ``app`` (call from the main thread before app.run)."""

    def on_signal(signum, frame):
        runners = live_runners(app)
        for r in runners:
            r.interrupted = True          # a plain flag: the engine checks it every step
        deadline = time.monotonic() + WAIT_S
        for r in runners:
            writer = getattr(r, "writer", None)
            while writer is not None and not writer.closed and time.monotonic() < deadline:
                time.sleep(0.05)          # the training thread runs meanwhile (GIL released)
        os._exit(128 + signum)            # the terminal is gone: no UI teardown to do

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, on_signal)
