"""Training throughput: tuitrain's engine against plain ``model.fit(verbose=0)``.

Same model, same data, same batch size, in one process. Both runs train at once in their
own threads and take turns every ``--slice`` seconds (see ``slices.py``): this machine's
speed drifts by +-30% over seconds, so only neighbouring slices are compared. The plain
side is ``model.fit`` with one callback that waits at its gate; the engine side is
tuitrain's Trainer (instrumented train step, live controls, run log written) whose sink
waits at its gate. Both are warmed up first (tracing, one epoch), so tracing is not timed.

    python benchmarks/overhead.py                  # all cases, 20 pairs of 1 s slices
    python benchmarks/overhead.py --pairs 30 --cases "every step"

Prints one table row per case: median steps/s of each side, and the median and quartiles
of the per-pair ratio engine / plain.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

from slices import Gate, alternate, start_thread, summary  # noqa: E402
from tuitrain.data import load_data  # noqa: E402
from tuitrain.engine import build  # noqa: E402
from tuitrain.engine.control import Control  # noqa: E402
from tuitrain.engine.events import Step  # noqa: E402
from tuitrain.engine.instrumented import InstrumentedSequential  # noqa: E402
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


def preset_for(model: str, every: int, limit: int, epochs: int, full_every: int | None = None):
    return validate_preset({
        "name": f"bench_{model}",
        "data": {"source": "auto", "limit": limit, "validation_size": 0,
                 "normalization": "standardize" if model == "selu100" else "scale"},
        "model": {"layers": MODELS[model]},
        "optimizer": {"name": "sgd", "learning_rate": 0.001},
        "train": {"epochs": epochs, "batch_size": 32},
        "stats": {"every": every} | ({} if full_every is None else {"full_every": full_every}),
        "evaluation": {"test": False},
    }, "benchmark")


class GateCallback(keras.callbacks.Callback):
    """The plain side's only callback: wait at the gate after each step."""

    def __init__(self, gate: Gate):
        super().__init__()
        self.gate = gate

    def on_train_batch_end(self, batch, logs=None):
        self.gate.step_done()
        if self.gate.finished:
            self.model.stop_training = True


def plain_run(preset, data, gate: Gate) -> None:
    keras.utils.set_random_seed(preset.train.seed)
    model = build.build_model(preset)
    model.compile(optimizer=build.build_optimizer(preset.optimizer),
                  loss=build.loss_for(preset), metrics=build.metrics_for(preset),
                  jit_compile=False)
    model.fit(data.x_train, data.y_train, batch_size=preset.train.batch_size,
              epochs=preset.train.epochs, verbose=0, callbacks=[GateCallback(gate)])


def engine_run(preset, logs_dir, gate: Gate, control: Control) -> None:
    def sink(ev):
        if isinstance(ev, Step):
            gate.step_done()

    Trainer(preset, sink=sink, control=control, logs_dir=logs_dir, headless=True).run()


def compare(preset, data, logs_dir, pairs: int, slice_s: float, warm: int):
    """Median rates and ratio quartiles of ``pairs`` alternating slices."""
    plain, engine, control = Gate("plain"), Gate("engine"), Control()
    threads = [start_thread(plain, lambda: plain_run(preset, data, plain)),
               start_thread(engine, lambda: engine_run(preset, logs_dir, engine, control))]
    try:
        plain.warm_up(warm)
        engine.warm_up(warm)
        return summary(alternate(plain, engine, pairs, slice_s))
    finally:
        control.send("stop", source="benchmark")
        for gate in (plain, engine):
            gate.release()
        for t in threads:
            t.join(timeout=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20, help="pairs of slices per case")
    ap.add_argument("--slice", type=float, default=1.0, help="seconds per slice")
    ap.add_argument("--limit", type=int, default=10000, help="training images")
    ap.add_argument("--cases", default="", help="substring filter on case names")
    ap.add_argument("--update-source", choices=("auto", "snapshot"), default="auto",
                    help="where statistics steps take the weight update from")
    ap.add_argument("--full-every", type=int, default=None,
                    help="stats.full_every (default: the preset default, 10; 1: every "
                         "statistics step takes every figure)")
    args = ap.parse_args(argv)
    InstrumentedSequential.update_source = args.update_source
    rows = []
    with tempfile.TemporaryDirectory() as logs_dir:
        for case, (model, every) in CASES.items():
            if args.cases not in case:
                continue
            preset = preset_for(model, every, args.limit, 1000, args.full_every)
            data = load_data(preset.data)
            warm = -(-args.limit // preset.train.batch_size) + 2 * every + 5
            p, e, r, lo, hi = compare(preset, data, logs_dir, args.pairs, args.slice, warm)
            rows.append((case, p, e, r, lo, hi))
            print(f"{case:28s} plain {p:8.1f} steps/s  engine {e:8.1f} steps/s  "
                  f"ratio {r:.3f} (quartiles {lo:.3f}-{hi:.3f})", flush=True)
    print()
    print(f"| case | plain fit (steps/s) | tuitrain (steps/s) | ratio (median of {args.pairs} "
          "pairs, quartiles) |")
    print("| --- | ---: | ---: | ---: |")
    for case, p, e, r, lo, hi in rows:
        print(f"| {case} | {p:.0f} | {e:.0f} | {r:.2f}x ({lo:.2f}-{hi:.2f}) |")
    print(f"\n{data.source}; {args.limit} images, batch 32, stats.full_every "
          f"{preset.stats.full_every}, {args.pairs} pairs of {args.slice:g} s "
          f"slices after one warm-up epoch; python {sys.version.split()[0]}, "
          f"keras {keras.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
