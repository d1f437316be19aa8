"""Training throughput: tuitrain's engine against plain ``model.fit(verbose=0)``.

Same model, same data, same batch size, in one process, alternating plain and engine runs
so that machine noise hits both. Throughput is timed from the end of the first epoch (which
pays tracing) to the end of the last, so both sides include their per-epoch overheads.

    python benchmarks/overhead.py                 # all cases, 3 rounds
    python benchmarks/overhead.py --rounds 5 --limit 20000 --cases base

Prints one table row per case: median steps/s of each side and the ratio engine / plain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from tuitrain.data import load_data  # noqa: E402
from tuitrain.engine import build  # noqa: E402
from tuitrain.engine.events import EpochEnd  # noqa: E402
from tuitrain.engine.trainer import Trainer  # noqa: E402
from tuitrain.preset import validate_preset  # noqa: E402

MODELS = {
    "base": [{"units": 100, "activation": "relu", "kernel_initializer": "he_normal", "repeat": 3}],
    "selu100": [{"units": 100, "activation": "selu", "kernel_initializer": "lecun_normal",
                 "repeat": 100}],
}
CASES = {  # name: (model, stats.every)
    "base, stats every 10": ("base", 10),
    "base, stats every step": ("base", 1),
    "selu100, stats every 10": ("selu100", 10),
    "selu100, stats every step": ("selu100", 1),
}


def preset_for(model: str, every: int, limit: int, epochs: int):
    return validate_preset({
        "name": f"bench_{model}",
        "data": {"source": "auto", "limit": limit, "validation_size": 0,
                 "normalization": "standardize" if model == "selu100" else "scale"},
        "model": {"layers": MODELS[model]},
        "optimizer": {"name": "sgd", "learning_rate": 0.001},
        "train": {"epochs": epochs, "batch_size": 32},
        "stats": {"every": every},
        "evaluation": {"test": False},
    }, "benchmark")


class EpochClock(keras.callbacks.Callback):
    """Records epoch-end times only (no batch hook, so Keras keeps its fast path)."""

    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def plain_rate(preset, data) -> float:
    keras.utils.set_random_seed(preset.train.seed)
    model = build.build_model(preset)
    model.compile(optimizer=build.build_optimizer(preset.optimizer),
                  loss=build.loss_for(preset), metrics=build.metrics_for(preset),
                  jit_compile=False)
    clock = EpochClock()
    model.fit(data.x_train, data.y_train, batch_size=preset.train.batch_size,
              epochs=preset.train.epochs, verbose=0, callbacks=[clock])
    steps = -(-len(data.x_train) // preset.train.batch_size) * (preset.train.epochs - 1)
    return steps / (clock.ends[-1] - clock.ends[0])


def engine_rate(preset, logs_dir) -> float:
    ends: list[tuple[float, int]] = []

    def sink(ev):
        if isinstance(ev, EpochEnd):
            ends.append((time.perf_counter(), ev.step))

    Trainer(preset, sink=sink, logs_dir=logs_dir, headless=True).run()
    return (ends[-1][1] - ends[0][1]) / (ends[-1][0] - ends[0][0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=10000, help="training images")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--cases", default="", help="substring filter on case names")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as logs_dir:
        for case, (model, every) in CASES.items():
            if args.cases not in case:
                continue
            preset = preset_for(model, every, args.limit, args.epochs)
            data = load_data(preset.data)
            plain, engine = [], []
            for _ in range(args.rounds):
                plain.append(plain_rate(preset, data))
                engine.append(engine_rate(preset, logs_dir))
            ratios = [e / p for e, p in zip(engine, plain)]
            rows.append((case, statistics.median(plain), statistics.median(engine),
                         statistics.median(ratios), min(ratios), max(ratios)))
            print(f"{case:28s} plain {rows[-1][1]:8.1f} steps/s  engine {rows[-1][2]:8.1f} "
                  f"steps/s  ratio {rows[-1][3]:.3f} (min {rows[-1][4]:.3f}, "
                  f"max {rows[-1][5]:.3f})", flush=True)
    print()
    print(f"| case | plain fit (steps/s) | tuitrain (steps/s) | ratio (median of {args.rounds}) |")
    print("| --- | ---: | ---: | ---: |")
    for case, p, e, r, lo, hi in rows:
        print(f"| {case} | {p:.0f} | {e:.0f} | {r:.2f}x ({lo:.2f}-{hi:.2f}) |")
    print(f"\n{data.source}; {args.limit} images, batch 32, {args.epochs} epochs per run "
          f"(first excluded); python {sys.version.split()[0]}, keras {keras.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
