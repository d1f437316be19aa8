"""Take the SVG screenshots of review and compare (docs/review.svg, docs/compare.svg,
docs/compare_grads.svg).

    python docs/shoot_review.py --out-dir docs

Trains R01 (100 SELU layers) and R02 (100 ReLU layers) for a few epochs on the embedded
Fashion-MNIST subset with the real trainer (R02 gets an lr x 0.5 from the control queue
at step 150, so its lr trace has a marker), then opens R02 in review with the cursor moved
back (``[`` three times) and both runs in compare, with the curves and (``g``) with the
gradient heatmaps, at 200x60, in Textual's headless mode. ``--logs-dir`` keeps the runs
(and reuses them when it already holds both).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tuitrain.catalog import resolve_preset
from tuitrain.engine.control import Control
from tuitrain.engine.trainer import Trainer
from tuitrain.preset import load_preset
from tuitrain.runlog import RunLog
from tuitrain.ui.viewers import make_review_app

OVERRIDES = ["data.source=subset", "data.validation_size=500", "train.epochs=4",
             "stats.every=4", "evaluation.test=false"]


def train(name: str, logs: Path, control_at: int | None = None) -> Path:
    preset = load_preset(resolve_preset(name), OVERRIDES)
    control = Control()

    def sink(event) -> None:
        # The engine drains the queue between steps: queue the command at that step.
        if control_at is not None and event.kind == "step" and event.step == control_at:
            control.scale_lr(0.5, source="ui")

    trainer = Trainer(preset, sink=sink, control=control, logs_dir=logs, headless=True)
    trainer.run()
    return trainer.run_dir


async def shoot(folders: list[Path], out: Path, keys: tuple[str, ...] = ()) -> None:
    app = make_review_app(folders)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.3)
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.6)      # the plots follow the cursor after a short delay
        app.save_screenshot(str(out))
    print(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, default=Path("docs"))
    p.add_argument("--logs-dir", type=Path, default=None)
    args = p.parse_args()
    logs = args.logs_dir or Path(tempfile.mkdtemp()) / "logs"
    done = {f.name.split("_", 2)[-1]: f for f in sorted(logs.glob("*_*"))} if logs.is_dir() else {}
    selu = done.get("r01_selu_deep") or train("r01_selu_deep", logs)
    relu = done.get("r02_relu_deep") or train("r02_relu_deep", logs, control_at=150)
    assert RunLog.load(relu).controls, "the lr control did not apply"
    asyncio.run(shoot([relu], args.out_dir / "review.svg", ("left_square_bracket",) * 3))
    asyncio.run(shoot([selu, relu], args.out_dir / "compare.svg"))
    asyncio.run(shoot([selu, relu], args.out_dir / "compare_grads.svg", ("g",)))


if __name__ == "__main__":
    main()
