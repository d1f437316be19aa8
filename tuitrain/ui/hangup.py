"""A dropped SSH session (SIGHUP) or a SIGTERM while the dashboard trains.

The terminal is gone, so there is no one to ask: every live run in the app is asked to
stop after its current step (status "interrupted"); a thread waits until each run has
written its end event and closed its log (fsynced), then the process exits. Without this the
default handler would kill the process mid-step and the run would read as "crashed".
"""

from __future__ import annotations

import os
import signal
import threading
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


def wait_then_exit(runners: list[Any], code: int, timeout: float = WAIT_S) -> None:
    """Wait until every runner's log is closed (all on disk), then end the process."""
    deadline = time.monotonic() + timeout
    for r in runners:
        while time.monotonic() < deadline:
            writer = getattr(r, "writer", None)   # None while the run is still setting up
            wait = min(0.2, max(0.0, deadline - time.monotonic()))
            if writer is None:
                time.sleep(wait)
            elif writer.wait_closed(wait):
                break
    os._exit(code)                        # the terminal is gone: no UI teardown to do


def install(app: Any) -> None:
    """Handle SIGHUP and SIGTERM for ``app`` (call from the main thread before app.run).

    The handler only sets flags and starts a waiting thread: it runs on the main thread,
    which may hold a lock the training thread needs (the event sink's), so it must not
    block there."""
    started: list[threading.Thread] = []

    def on_signal(signum, frame):
        runners = live_runners(app)
        for r in runners:
            r.interrupted = True          # a plain flag: the engine checks it every step
        if not runners:
            os._exit(128 + signum)
        if not started:
            t = threading.Thread(target=wait_then_exit, args=(runners, 128 + signum),
                                 daemon=True, name="tuitrain-hangup")
            started.append(t)
            t.start()

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, on_signal)
