"""Review load: tuitrain's run log and review screen against TensorBoard's EventAccumulator.

One synthetic run (default 1,000,000 steps with loss, accuracy and lr per step, and
gradient statistics of 100 layers every 10 steps) is written twice:

* through ``RunWriter`` with the engine's event types (``events.jsonl`` plus its binary
  step and line index), as a real run writes it;
* as TensorBoard event files with ``tf.summary``: ``loss``, ``accuracy`` and ``lr`` per
  step and ``grad_norm/<layer>`` for each of the 100 layers every 10 steps.

Then, each in a fresh subprocess (so each peak RSS is its own):

(a) ``RunLog.load`` + ``replay`` into a RunState (what review does before drawing);
(b) the review screen's time to first paint: Textual headless (``run_test``), from app
    start (loading included) to the first frame where the board has drawn;
(c) ``EventAccumulator(path, size_guidance={"scalars": 0, "tensors": 0}).Reload()``.

Usage: ``python benchmarks/review_load.py [--steps N] [--layers L] [--every K]
[--keep DIR] [--docs docs/benchmarks.md]``. ``--docs`` writes the table into that file
under "## Review load (benchmarks/review_load.py)", leaving other sections alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HEADING = "## Review load (benchmarks/review_load.py)"


def curves(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    steps = np.arange(1, n + 1, dtype=np.int64)
    x = steps / n
    loss = 0.25 + 2.0 * np.exp(-6 * x) + 0.05 * rng.standard_normal(n)
    acc = np.clip(0.95 - 0.85 * np.exp(-6 * x) + 0.03 * rng.standard_normal(n), 0, 1)
    lr = 0.01 * 0.1 ** (2 * x)
    lr[n // 2:] *= 0.5     # the lr x 0.5 control at mid-run
    return {"step": steps, "loss": loss, "accuracy": acc, "lr": lr}


def grad_tables(k: int, layers: int, rng: np.random.Generator, start: int, total: int) -> np.ndarray:
    """[k, layers, 10] gradient statistics: norms vanish toward the input, like R02."""
    from tuitrain.engine.events import STAT_COLUMNS

    depth = np.linspace(-4, 0, layers)[None, :]
    t = (start + np.arange(k))[:, None] / max(total, 1)
    norm = 10 ** (depth - t) * np.exp(0.2 * rng.standard_normal((k, layers)))
    table = rng.random((k, layers, len(STAT_COLUMNS))).astype(np.float64)
    table[..., 0] = norm
    table[..., 1] *= norm * 1e-2
    table[..., 2] = norm * 0.05
    table[..., 3] = norm * 0.3
    table[..., 5] = 0
    return table


def write_runlog(logs: Path, n: int, layers: int, every: int) -> tuple[Path, np.ndarray]:
    """The synthetic run through RunWriter; returns its folder and the norms [samples, layers]."""
    from tuitrain.engine.events import (STAT_COLUMNS, ControlApplied, EpochEnd, GradStats,
                                        RunEnded, RunStarted, Step)
    from tuitrain.runlog import RunWriter

    rng = np.random.default_rng(0)
    c = curves(n, rng)
    names = [f"dense_{i}" for i in range(layers - 1)] + ["output"]
    epochs = 100 if n >= 100_000 else 4
    per_epoch = max(1, n // epochs)
    preset = {"name": "synthetic", "train": {"epochs": epochs, "batch_size": 32}}
    w = RunWriter(logs, preset, "synthetic")
    w.emit(RunStarted(run_id=w.name, preset=preset, layers=names, layer_info=[],
                      total_params=layers * 10_100, trainable_params=layers * 10_100,
                      device="CPU", strategy="default", steps_per_epoch=per_epoch,
                      epochs=epochs, train_samples=per_epoch * 32, val_samples=5000,
                      data_source="synthetic"))
    norms = np.empty((n // every, layers), np.float32)
    t0 = time.time()
    cols = list(STAT_COLUMNS)
    frozen = [False] * layers
    steps, loss, acc, lr = (c[k].tolist() for k in ("step", "loss", "accuracy", "lr"))
    chunk = 1000 * every
    for a in range(0, n, chunk):
        tables = grad_tables(min(chunk, n - a) // every, layers, rng, a // every, n // every)
        for i in range(a, min(a + chunk, n)):
            s = steps[i]
            w.emit(Step(step=s, epoch=(s - 1) // per_epoch, loss=loss[i], accuracy=acc[i],
                        lr=lr[i], clip_mode="off", clip_threshold=1.0,
                        grad_norm=math.nan, clipped=False, samples_per_s=9000.0, t=t0 + s * 1e-3))
            if s % every == 0:
                table = tables[(i - a) // every]
                norms[s // every - 1] = table[:, 0]
                w.emit(GradStats(step=s, epoch=(s - 1) // per_epoch, columns=cols,
                                 values=table.tolist(), frozen=frozen, t=t0 + s * 1e-3))
            if s % per_epoch == 0:
                w.emit(EpochEnd(epoch=s // per_epoch - 1, step=s, lr=lr[i], duration_s=1.0,
                                metrics={"loss": loss[i], "accuracy": acc[i],
                                         "val_loss": loss[i] + 0.05, "val_accuracy": acc[i] - 0.02},
                                t=t0 + s * 1e-3))
            if s == n // 2:
                w.emit(ControlApplied(step=s, command="scale_lr", args={"factor": 0.5},
                                      source="ui", t=t0 + s * 1e-3))
        w.flush()   # bounded memory: the writer's queue never holds more than a chunk
    w.emit(RunEnded(status="finished", step=n, epoch=epochs, t=t0 + n * 1e-3))
    w.close()
    return w.folder, norms


def write_tensorboard(out: Path, n: int, every: int, norms: np.ndarray, group: int = 10) -> None:
    """The same scalars with tf.summary, one compiled loop per tag (eager would take hours).

    One folder per tag group (loss, accuracy, lr, and ``group`` layers' gradient norms
    each), so that the reader can load them one after another: all together,
    EventAccumulator would hold every value at once (about 1.4 kB each, 18 GB for the
    default size), more than this machine can spare.
    """
    import tensorflow as tf
    from tensorboard.plugins.scalar.metadata import create_summary_metadata

    c = curves(n, np.random.default_rng(0))
    # tf.summary.scalar wants a Python name; tf.summary.write with the scalar plugin's
    # metadata writes the same records and takes the tag as a tensor (one trace per writer).
    meta = create_summary_metadata(display_name=None, description=None)
    g_steps = tf.constant(np.arange(1, len(norms) + 1, dtype=np.int64) * every)
    jobs = [(tag, [(tag, tf.constant(c["step"]), c[tag])]) for tag in ("loss", "accuracy", "lr")]
    for a in range(0, norms.shape[1], group):
        tags = [(f"grad_norm/layer_{j:03d}", g_steps, norms[:, j])
                for j in range(a, min(a + group, norms.shape[1]))]
        jobs.append((f"grad_norm_{a:03d}", tags))
    for folder, tags in jobs:
        writer = tf.summary.create_file_writer(str(out / folder))

        @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.int64),
                                      tf.TensorSpec([None], tf.float32)])
        def write(tag, steps, values):
            for i in tf.range(tf.shape(steps)[0]):
                tf.summary.write(tag, values[i], step=steps[i], metadata=meta)

        with writer.as_default():
            for tag, steps, values in tags:
                write(tf.constant(tag), steps, tf.constant(values, tf.float32))
        writer.close()


# --- the measured parts, each run in its own subprocess ------------------------------------
def measure_load(folder: str) -> dict:
    t0 = time.perf_counter()
    from tuitrain.runlog import RunLog
    from tuitrain.ui.replay import replay
    t1 = time.perf_counter()
    log = RunLog.load(folder)
    t2 = time.perf_counter()
    state = replay(log)
    t3 = time.perf_counter()
    return {"import": t1 - t0, "load": t2 - t1, "replay": t3 - t2, "steps": len(log.steps["step"]),
            "points": len(state.loss_s), "grad_points": len(state.grads)}


def measure_paint(folder: str) -> dict:
    """From app start to the first full frame that shows the board's heatmap and table.

    Textual's headless driver never writes frames, so the frame is rendered here the way
    the terminal driver would (the compositor's full update, rendered to terminal text).
    """
    import asyncio

    t0 = time.perf_counter()
    from tuitrain.ui.viewers import make_review_app

    async def go() -> tuple[float, int]:
        app = make_review_app([folder])
        async with app.run_test(size=(200, 60)) as pilot:
            frames = 0
            while True:
                await pilot.pause()
                frames += 1
                frame = app.screen._compositor.render_update(full=True).render_segments(app.console)
                if "\u2580" in frame and "layers @ step" in frame:   # heatmap cells, table title
                    return time.perf_counter(), frames

    painted, frames = asyncio.run(go())
    return {"paint": painted - t0, "frames": frames}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def measure_tensorboard(path: str) -> dict:
    """EventAccumulator.Reload of each tag-group folder in turn (see write_tensorboard);
    the time is the sum, ``held_mb`` what holding them all would add to the baseline."""
    import gc

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reload = held = 0.0
    base: float | None = None
    tags, loss_points = 0, 0
    for folder in sorted(p for p in Path(path).iterdir() if p.is_dir()):
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        before = rss_mb()
        base = before if base is None else base
        t = time.perf_counter()
        acc.Reload()
        reload += time.perf_counter() - t
        held += rss_mb() - before
        names = acc.Tags()["tensors"]
        tags += len(names)
        if "loss" in names:
            loss_points = len(acc.Tensors("loss"))
        del acc
        gc.collect()
    return {"reload": reload, "tags": tags, "loss_points": loss_points, "held_mb": held,
            "base_mb": base or 0.0}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, path: str) -> dict:
    """Run one measurement in a fresh interpreter; its result plus its peak RSS."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"import benchmarks.review_load as b; r = b.measure_{kind}({path!r}); "
            "r['rss_mb'] = b.peak_rss_mb(); "
            "print('RESULT', json.dumps(r))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[7:])


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def table(args, w_log: float, w_tb: float, log_mb: float, tb_mb: float, a: dict, b: dict,
          c: dict) -> str:
    ours = a["load"] + a["replay"]
    rows = [
        ("tuitrain: RunLog.load", f"{a['load']:.3f}", ""),
        ("tuitrain: replay into RunState", f"{a['replay']:.3f}", ""),
        ("tuitrain: load + replay", f"{ours:.2f}", f"{a['rss_mb']:.0f}"),
        ("tuitrain: review screen, first paint (load included)", f"{b['paint']:.2f}", f"{b['rss_mb']:.0f}"),
        ("TensorBoard: EventAccumulator.Reload", f"{c['reload']:.2f}", f"{c['rss_mb']:.0f}"),
        ("TensorBoard: all tag groups held at once, as TensorBoard keeps them (estimated)", "",
         f"{c['base_mb'] + c['held_mb']:.0f}"),
    ]
    lines = ["| measure | seconds | peak RSS (MB) |", "|---|---:|---:|"]
    lines += [f"| {m} | {s} | {r} |" for m, s, r in rows]
    lines += ["", "TensorBoard's files are one folder per tag group (loss, accuracy, lr, ten layers' "
              "gradient norms each), each loaded by its own EventAccumulator and dropped before "
              "the next, so that the measurement fits in this machine's memory; the time is the "
              "sum. The last row adds up what each folder held.",
              "", f"- EventAccumulator / tuitrain load + replay: **{c['reload'] / ours:.0f}x**; "
              f"/ review first paint: **{c['reload'] / b['paint']:.0f}x** (target: at least 10x).",
              f"- Data: {a['steps']:,} steps, {args.layers} layers every {args.every} steps "
              f"({c['tags']} TensorBoard tags, {c['loss_points']:,} loss points read back); "
              f"run log {log_mb:,.0f} MB, TensorBoard files {tb_mb:,.0f} MB.",
              f"- The review keeps {a['points']} points per curve and {a['grad_points']} "
              "gradient samples (decimated), whatever the run length.",
              f"- Writing (not timed against each other): RunWriter {w_log:.0f} s, "
              f"tf.summary {w_tb:.0f} s."]
    return "\n".join(lines)


def write_docs(path: Path, command: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = (f"{HEADING}\n\nMeasured with `{command}` (2 shared CPU cores; noisy, +-10%). "
               "Each measurement runs in a fresh process, after the files were written (so "
               "both readers find them in the page cache).\n\n" + body + "\n")
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    path.write_text(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--layers", type=int, default=100)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--keep", type=Path, default=None, help="write the logs here and keep them")
    p.add_argument("--docs", type=Path, default=None, help="update this markdown file's section")
    args = p.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="review_load_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        folder, norms = write_runlog(work / "logs", args.steps, args.layers, args.every)
        w_log = time.perf_counter() - t
        print(f"run log written in {w_log:.0f} s: {folder}", flush=True)
        t = time.perf_counter()
        write_tensorboard(work / "tensorboard", args.steps, args.every, norms)
        w_tb = time.perf_counter() - t
        print(f"TensorBoard files written in {w_tb:.0f} s", flush=True)
        del norms
        a = child("load", str(folder))
        b = child("paint", str(folder))
        c = child("tensorboard", str(work / "tensorboard"))
        body = table(args, w_log, w_tb, size_mb(folder), size_mb(work / "tensorboard"), a, b, c)
        print(body)
        if args.docs:
            cmd = "python benchmarks/review_load.py" + "".join(
                f" --{k} {v}" for k, v in (("steps", args.steps), ("layers", args.layers),
                                           ("every", args.every)))
            write_docs(args.docs, cmd, body)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
