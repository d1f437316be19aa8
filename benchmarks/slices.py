"""Alternating time slices: two training runs in one process, taking turns every second.

This machine's speed drifts by +-30% over seconds to minutes (shared cores), so timing
whole runs one after the other compares two different machines. Here both sides train
at once in their own threads, but a :class:`Gate` lets only one of them step: each side
calls :meth:`Gate.step_done` after every step and waits there while its gate is closed
(using no CPU). :func:`alternate` opens the gates in turn for ``slice_s`` seconds, in
ABBA order, and each pair of neighbouring slices gives one throughput ratio; the median
over many pairs is what the benchmarks report. A slice's rate counts the steps between
its first and last step ends, so waking up is not timed.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from typing import Callable


class Gate:
    """Where a training thread waits between steps while the other side has its turn."""

    def __init__(self, name: str):
        self.name = name
        self.steps = 0
        self.finished = False        # let the thread run freely (to its stop)
        self.error: BaseException | None = None
        self._open = threading.Event()
        self._waiting = threading.Event()
        self._times: list[float] = []

    def step_done(self) -> None:
        """Called by the training thread at the end of every step."""
        self.steps += 1
        if self._open.is_set():
            self._times.append(time.perf_counter())
            return
        self._waiting.set()
        while not self._open.is_set() and not self.finished:
            self._open.wait(0.05)
        self._waiting.clear()

    def run_slice(self, seconds: float) -> float:
        """Let the thread train for ``seconds``; return its steps per second."""
        self._times = []
        self._open.set()
        time.sleep(seconds)
        self._open.clear()
        while not self._waiting.wait(0.5):
            if self.error is not None or self.finished:
                break
        t = self._times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 and t[-1] > t[0] else math.nan

    def warm_up(self, steps: int, timeout: float = 600.0) -> None:
        """Open the gate until the thread has done ``steps`` steps (tracing, first epoch)."""
        self._open.set()
        deadline = time.monotonic() + timeout
        while self.steps < steps and self.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._open.clear()
        while not self._waiting.wait(0.5):
            if self.error is not None:
                raise RuntimeError(f"{self.name} failed: {self.error}")

    def release(self) -> None:
        self.finished = True
        self._open.set()


def start_thread(gate: Gate, target: Callable[[], object]) -> threading.Thread:
    """Run ``target`` (a training run that calls ``gate.step_done``) in a daemon thread."""
    def body():
        try:
            target()
        except BaseException as exc:  # surfaced by the coordinator
            gate.error = exc
            gate.release()
    thread = threading.Thread(target=body, name=f"bench-{gate.name}", daemon=True)
    thread.start()
    return thread


def alternate(a: Gate, b: Gate, pairs: int, slice_s: float,
              around: Callable[[str, str], None] | None = None) -> list[tuple[float, float]]:
    """``pairs`` (rate of a, rate of b), slices in ABBA order so drift cancels.

    ``around(name, "start" | "end")`` is called at both ends of every slice (the dashboard
    benchmark reads the UI thread's CPU clock there).
    """
    out = []
    for i in range(pairs):
        order = (a, b) if i % 2 == 0 else (b, a)
        rates = {}
        for gate in order:
            if around:
                around(gate.name, "start")
            rates[gate.name] = gate.run_slice(slice_s)
            if around:
                around(gate.name, "end")
            if gate.error is not None:
                raise RuntimeError(f"{gate.name} failed: {gate.error}")
        out.append((rates[a.name], rates[b.name]))
    return out


def summary(pairs: list[tuple[float, float]]) -> tuple[float, float, float, float, float]:
    """(median rate a, median rate b, median ratio b/a, lower quartile, upper quartile)."""
    good = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y) and x > 0]
    ratios = sorted(y / x for x, y in good)
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    return (statistics.median(x for x, _ in good), statistics.median(y for _, y in good),
            statistics.median(ratios), q[0], q[2])
