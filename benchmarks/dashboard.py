"""Training throughput with the live dashboard against the same run headless.

The dashboard case is the real app in Textual's headless mode (``app.run_test``): the
engine runs in the app's thread worker and the UI draws every event it posts. The
headless case is the engine alone in this thread with a no-op sink. Runs alternate in one
process; throughput is timed from the end of the first epoch to the end of the last.

    python benchmarks/dashboard.py                       # base model, 3 rounds
    python benchmarks/dashboard.py --model selu100 --rounds 2

The UI's CPU share is the CPU time of the app's thread (the main thread: Textual's event
loop, every redraw) over the measured window, as a share of one core and as a share of
the whole process's CPU time in that window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from overhead import preset_for  # noqa: E402
from tuitrain.engine.events import EpochEnd  # noqa: E402
from tuitrain.engine.trainer import Trainer  # noqa: E402
from tuitrain.ui.app import make_app  # noqa: E402


MAIN_THREAD_CLOCK = time.pthread_getcpuclockid(threading.main_thread().ident)


class Clock:
    """Tees events: at each epoch end, wall time, process and main-thread CPU time, step."""

    def __init__(self):
        self.ends: list[tuple[float, float, float, int]] = []

    def __call__(self, ev):
        if isinstance(ev, EpochEnd):
            self.ends.append((time.perf_counter(), time.process_time(),
                              time.clock_gettime(MAIN_THREAD_CLOCK), ev.step))

    def rate(self) -> tuple[float, float, float]:
        """(steps/s, main-thread CPU as a share of one core, as a share of process CPU)."""
        (w0, p0, m0, s0), (w1, p1, m1, s1) = self.ends[0], self.ends[-1]
        return (s1 - s0) / (w1 - w0), (m1 - m0) / (w1 - w0), (m1 - m0) / max(p1 - p0, 1e-9)


def headless(preset, logs_dir) -> Clock:
    clock = Clock()
    Trainer(preset, sink=clock, logs_dir=logs_dir, headless=True).run()
    return clock


async def dashboard(preset, logs_dir, size) -> Clock:
    clock = Clock()

    def source(p, *, sink, control, logs_dir):
        def tee(ev):
            clock(ev)
            sink(ev)
        return Trainer(p, sink=tee, control=control, logs_dir=logs_dir)

    app = make_app(preset, logs_dir=logs_dir, run_source=source)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
    return clock


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("base", "selu100"), default="base")
    ap.add_argument("--every", type=int, default=10, help="gradient statistics every N steps")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=10000, help="training images")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--size", default="200x60", help="terminal size of the dashboard")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    preset = preset_for(args.model, args.every, args.limit, args.epochs)
    rows = []
    with tempfile.TemporaryDirectory() as logs_dir:
        for r in range(args.rounds):
            h_rate = headless(preset, logs_dir).rate()[0]
            d_rate, ui_core, ui_share = asyncio.run(dashboard(preset, logs_dir, size)).rate()
            rows.append((h_rate, d_rate, d_rate / h_rate, ui_core, ui_share))
            print(f"round {r + 1}: headless {h_rate:7.1f} steps/s  dashboard {d_rate:7.1f} "
                  f"steps/s  ratio {rows[-1][2]:.3f}  UI thread {ui_core:.1%} of a core, "
                  f"{ui_share:.1%} of the process CPU", flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    print()
    print("| case | headless (steps/s) | dashboard (steps/s) | ratio | UI thread: share of a core "
          "| UI thread: share of process CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {args.model}, stats every {args.every}, {args.size} | {med[0]:.0f} | {med[1]:.0f} "
          f"| {med[2]:.2f}x ({min(r[2] for r in rows):.2f}-{max(r[2] for r in rows):.2f}) "
          f"| {med[3]:.1%} | {med[4]:.1%} |")
    print(f"\nmedian of {args.rounds} rounds; {args.limit} images, batch 32, {args.epochs} epochs "
          f"per run (first excluded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
