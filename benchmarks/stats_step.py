"""The statistics step alone: tuitrain's compiled train function, lean vs statistics.

Calls the model's compiled train function in a loop on one real batch (no fit loop, no
callbacks, no log), alternating the variants five times, and prints the median time per
step of each. Each step's loss is read back, and a statistics step's table is built on the
host, as the engine does. This is what a statistics step costs by itself.

    python benchmarks/stats_step.py                # base and selu100
    python benchmarks/stats_step.py --models selu100 --steps 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import tensorflow as tf  # noqa: E402

from overhead import preset_for  # noqa: E402
from tuitrain.data import load_data  # noqa: E402
from tuitrain.engine import build  # noqa: E402
from tuitrain.engine.instrumented import InstrumentedSequential  # noqa: E402

VARIANTS = {  # name: (statistics: False, "core" or True, activations, update source)
    "lean": (False, False, "auto"), "stats": (True, True, "auto"),
    "core stats (full_every > every)": ("core", False, "auto"),
    "stats, no activations": (True, False, "auto"),
    "stats, update from a snapshot": (True, True, "snapshot")}


def time_variant(model, it, stats: bool, acts: bool, source: str, steps: int) -> float:
    model.measure_activations = acts
    model.update_source = source
    model.reset_variants()
    model.select(bool(stats), full=stats is True)
    fn = model.train_function
    for _ in range(5):
        fn(it)
    t = time.perf_counter()
    for _ in range(steps):
        out = fn(it)
        float(out["loss"])
        if stats:
            model.stats_table(out)
    return (time.perf_counter() - t) / steps * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="base,selu100")
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    print("| model | " + " | ".join(f"{v} (ms/step)" for v in VARIANTS) + " | stats / lean |")
    print("| --- |" + " ---: |" * (len(VARIANTS) + 1))
    for name in args.models.split(","):
        preset = preset_for(name, 1, 2000, 1)
        data = load_data(preset.data)
        model = build.build_model(preset, model_cls=InstrumentedSequential)
        model.compile(optimizer=build.build_optimizer(preset.optimizer),
                      loss=build.loss_for(preset), metrics=build.metrics_for(preset),
                      jit_compile=False)
        model.set_clipping("off", 1.0)
        batch = (tf.constant(data.x_train[:32]), tf.constant(data.y_train[:32]))
        it = iter(tf.data.Dataset.from_tensors(batch).repeat())
        times = {v: [] for v in VARIANTS}
        for _ in range(5):
            for v, (stats, acts, source) in VARIANTS.items():
                times[v].append(time_variant(model, it, stats, acts, source, args.steps))
        med = {v: statistics.median(t) for v, t in times.items()}
        print(f"| {name} | " + " | ".join(f"{med[v]:.2f}" for v in VARIANTS)
              + f" | {med['stats'] / med['lean']:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
