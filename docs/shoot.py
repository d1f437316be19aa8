"""Take SVG screenshots of the live dashboard on a real run (Textual's headless mode).

    python docs/shoot.py r02_relu_deep --steps 400 --size 200x60 --out docs/r02_dashboard.svg

Runs the preset with the real trainer, waits until ``--steps`` optimizer steps are done,
optionally presses keys (``--keys g``), saves the screenshot (and a second one after
``--then KEYS``, to ``--then-out``), then stops the run. The
screenshots committed under docs/ were made with this script.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from tuitrain.catalog import resolve_preset
from tuitrain.preset import load_preset
from tuitrain.ui.app import make_app


async def shoot(args: argparse.Namespace) -> None:
    preset = load_preset(resolve_preset(args.preset), args.set)
    width, height = (int(x) for x in args.size.split("x"))
    app = make_app(preset, logs_dir=args.logs_dir or tempfile.mkdtemp())
    async with app.run_test(size=(width, height)) as pilot:
        dash = app.screen
        deadline = time.monotonic() + args.timeout
        while dash.state.step < args.steps and not dash.state.ended:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out at step {dash.state.step}")
            await pilot.pause(0.2)
        if args.keys:
            await pilot.press(*args.keys)
        await pilot.pause(0.6)      # a few redraws
        app.save_screenshot(args.out)
        print(f"{args.out}: step {dash.state.step}, {dash.state.state}")
        if args.then_out:
            await pilot.press(*args.then)
            await pilot.pause(0.6)
            app.save_screenshot(args.then_out)
            print(f"{args.then_out}: step {dash.state.step}, after {' '.join(args.then)}")
        dash.control.stop(source="api")
        await app.workers.wait_for_complete()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("preset")
    p.add_argument("--set", action="append", default=[], help="preset override KEY=VALUE")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--size", default="200x60")
    p.add_argument("--keys", nargs="*", default=[])
    p.add_argument("--out", required=True)
    p.add_argument("--then", nargs="*", default=[], help="keys pressed before a second shot")
    p.add_argument("--then-out", help="file of the second screenshot")
    p.add_argument("--logs-dir")
    p.add_argument("--timeout", type=float, default=600)
    asyncio.run(shoot(p.parse_args()))


if __name__ == "__main__":
    main()
