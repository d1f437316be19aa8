"""A shorter GIL switch interval while several Python threads share the training process.

The training thread holds the GIL only briefly around each step (TensorFlow releases it
while the step runs), but when another thread is busy in Python (a redraw of the
dashboard, the log writer encoding a second's events) the training thread gets the GIL
back only at the interpreter's switch interval, 5 ms by default: several steps lost
each time. With a 1 ms interval the busy thread hands it over within a millisecond.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

SWITCH_INTERVAL_S = 0.001


@contextmanager
def short_switch_interval(seconds: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    """Set ``sys.setswitchinterval`` to at most ``seconds``; restore it on the way out."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(before)
