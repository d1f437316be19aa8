"""Training throughput with the live dashboard against the same run headless.

The dashboard side is the real app in Textual's headless mode (``app.run_test``, every
panel drawn at 200x60): the engine runs in the app's thread worker and the UI draws every
event it posts. The headless side is the engine alone, in a thread, with a sink that
only counts. Both train at once and take turns every ``--slice`` seconds (see
``slices.py``); while one side waits at its gate the other trains, and each pair of
neighbouring slices gives one ratio. Both are warmed up first (tracing, one epoch).

    python benchmarks/dashboard.py                         # base model, 12 pairs of 3 s
    python benchmarks/dashboard.py --model selu100 --pairs 10

The UI's CPU share is the CPU time of the app's thread (the main thread: Textual's event
loop, every redraw) during the dashboard's slices, as a share of one core; the same
clock during the headless slices shows what the idle app costs (the header's clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from overhead import engine_run, preset_for  # noqa: E402
from slices import Gate, alternate, start_thread, summary  # noqa: E402
from tuitrain.data import load_data  # noqa: E402
from tuitrain.engine.control import Control  # noqa: E402
from tuitrain.engine.events import Step  # noqa: E402
from tuitrain.engine.trainer import Trainer  # noqa: E402
from tuitrain.ui.app import make_app  # noqa: E402

MAIN_THREAD_CLOCK = time.pthread_getcpuclockid(threading.main_thread().ident)


class UiClock:
    """Main-thread CPU seconds and wall seconds, summed per side over its slices."""

    def __init__(self):
        self.cpu = {"dashboard": 0.0, "headless": 0.0}
        self.wall = {"dashboard": 0.0, "headless": 0.0}
        self._start = (0.0, 0.0)

    def __call__(self, name: str, edge: str) -> None:
        now = (time.clock_gettime(MAIN_THREAD_CLOCK), time.perf_counter())
        if edge == "start":
            self._start = now
        else:
            self.cpu[name] += now[0] - self._start[0]
            self.wall[name] += now[1] - self._start[1]

    def share(self, name: str) -> float:
        return self.cpu[name] / max(self.wall[name], 1e-9)


async def bench(preset, logs_dir, size, pairs: int, slice_s: float, warm: int):
    dash, head = Gate("dashboard"), Gate("headless")
    head_control, controls = Control(), []

    def source(p, *, sink, control, logs_dir):
        controls.append(control)

        def tee(ev):
            sink(ev)
            if isinstance(ev, Step):
                dash.step_done()
        return Trainer(p, sink=tee, control=control, logs_dir=logs_dir)

    head_thread = start_thread(head, lambda: engine_run(preset, logs_dir, head, head_control))
    clock = UiClock()
    app = make_app(preset, logs_dir=logs_dir, run_source=source)
    async with app.run_test(size=size) as pilot:
        def coordinate():
            try:
                dash.warm_up(warm)
                head.warm_up(warm)
                return alternate(head, dash, pairs, slice_s, around=clock)
            finally:
                for control in controls + [head_control]:
                    control.send("stop", source="benchmark")
                for gate in (dash, head):
                    gate.release()

        results = await asyncio.to_thread(coordinate)
        await app.workers.wait_for_complete()
        await pilot.pause()
    head_thread.join(timeout=120)
    return summary(results), clock


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("base", "selu100"), default="base")
    ap.add_argument("--every", type=int, default=10, help="gradient statistics every N steps")
    ap.add_argument("--pairs", type=int, default=12, help="pairs of slices")
    ap.add_argument("--slice", type=float, default=3.0,
                    help="seconds per slice (long enough that the redraws a slice causes fall in it)")
    ap.add_argument("--limit", type=int, default=10000, help="training images")
    ap.add_argument("--size", default="200x60", help="terminal size of the dashboard")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    preset = preset_for(args.model, args.every, args.limit, 1000)
    source = load_data(preset.data).source
    warm = -(-args.limit // preset.train.batch_size) + 2 * args.every + 5
    with tempfile.TemporaryDirectory() as logs_dir:
        (h, d, r, lo, hi), clock = asyncio.run(
            bench(preset, logs_dir, size, args.pairs, args.slice, warm))
    print("| case | headless (steps/s) | dashboard (steps/s) | ratio (median, quartiles) "
          "| UI thread, dashboard slices | UI thread, headless slices |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {args.model}, stats every {args.every}, {args.size} | {h:.0f} | {d:.0f} "
          f"| {r:.2f}x ({lo:.2f}-{hi:.2f}) | {clock.share('dashboard'):.1%} of a core "
          f"| {clock.share('headless'):.1%} of a core |")
    print(f"\n{source}; {args.pairs} pairs of {args.slice:g} s slices after one warm-up epoch; "
          f"{args.limit} images, batch 32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
