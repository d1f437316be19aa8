"""Export a saved run as CSV or as TensorBoard event files (``tuitrain export``).

* ``export_csv(folder, out=None) -> Path``: one row per step and one per epoch end (column
  ``kind``: ``step`` / ``epoch``), in step order (an epoch's row follows its last step's).
  Cells that do not apply, and metrics that were not measured (accuracy None, grad_norm
  between gradient-stats steps), are empty; floats are written with ``repr`` so they read
  back exactly. Rows are streamed from the log's numpy columns in chunks.
* ``export_tensorboard(folder, out=None) -> Path``: scalars written with ``tf.summary`` so
  TensorBoard opens them: ``train/{loss,accuracy,lr,grad_norm}`` per step (accuracy and
  grad_norm only where finite), ``epoch/{loss,accuracy,val_loss,val_accuracy}`` at the
  global step of each epoch end, ``grad_norm/<layer>`` at each gradient-stats step, and the
  preset as text. Event files already in the output folder are replaced, since TensorBoard
  would otherwise merge the old export with the new one.

TensorFlow is imported only inside ``export_tensorboard``: the CSV export, and importing
this module, work without it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tuitrain.runlog.codec import PRESET_FILE
from tuitrain.runlog.reader import RunLog

CSV_COLUMNS: tuple[str, ...] = ("kind", "step", "epoch", "loss", "accuracy", "lr",
                                "clip_threshold", "grad_norm", "clipped", "samples_per_s",
                                "val_loss", "val_accuracy", "time")
_CHUNK = 1 << 16
# Columns where NaN means "not measured at this step" rather than a diverged value.
_OPTIONAL = {"accuracy", "grad_norm"}


def _cell(x: Any, optional: bool = False) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return "" if optional and not math.isfinite(x) else repr(x)
    return str(x)


def _step_rows(cols: dict[str, np.ndarray], lo: int, hi: int) -> Iterator[list[str]]:
    """CSV rows of steps ``lo:hi``, converting the columns a chunk at a time."""
    for a in range(lo, hi, _CHUNK):
        b = min(a + _CHUNK, hi)
        c = {k: v[a:b].tolist() for k, v in cols.items()}
        for i in range(b - a):
            yield ["step", c["step"][i], c["epoch"][i], _cell(c["loss"][i]),
                   _cell(c["accuracy"][i], True), _cell(c["lr"][i]),
                   _cell(c["clip_threshold"][i]), _cell(c["grad_norm"][i], True),
                   int(c["clipped"][i]), _cell(c["samples_per_s"][i]), "", "",
                   _cell(c["t"][i])]


def export_csv(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the run's steps and epoch ends as CSV; the path written."""
    log = RunLog.load(folder)
    out = Path(out) if out is not None else log.folder / "export.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = log.steps
    n = len(cols["step"])
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        done = 0
        for e in sorted(log.epochs, key=lambda e: e.step):
            upto = int(np.searchsorted(cols["step"], e.step, side="right"))
            if upto > done:
                w.writerows(_step_rows(cols, done, upto))
                done = upto
            m = e.metrics
            w.writerow(["epoch", e.step, e.epoch, _cell(m.get("loss")),
                        _cell(m.get("accuracy")), _cell(e.lr), "", "", "", "",
                        _cell(m.get("val_loss")), _cell(m.get("val_accuracy")), _cell(e.t)])
        w.writerows(_step_rows(cols, done, n))
    return out


def _grad_norm_chunks(log: RunLog) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(steps [k], norms [k, layers]) per chunk of gradient-stats lines, read lazily.

    Uses the reader's line-by-line access instead of ``grad_series``, which would hold
    every statistic of every layer at once.
    """
    n = len(log.grad_steps)
    for a in range(0, n, 4096):
        idx = np.arange(a, min(a + 4096, n))
        steps, rows = [], []
        for event in log.grad_events(idx):
            if "norm" not in event.columns:
                continue
            j = event.columns.index("norm")
            steps.append(event.step)
            rows.append([np.nan if r[j] is None else r[j] for r in event.values])
        if rows and len({len(r) for r in rows}) == 1:
            yield np.asarray(steps, np.int64), np.asarray(rows, np.float64)


def _preset_text(log: RunLog) -> str:
    try:
        text = (log.folder / PRESET_FILE).read_text(encoding="utf-8")
    except OSError:
        text = json.dumps(log.preset, indent=2, default=str)
    # Indented: TensorBoard renders text as Markdown, and this keeps it a code block.
    return f"run `{log.name}`\n\n" + "\n".join("    " + line for line in text.splitlines())


def export_tensorboard(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the run as TensorBoard event files in a folder; the folder."""
    import tensorflow as tf

    log = RunLog.load(folder)
    out = Path(out) if out is not None else log.folder / "tensorboard"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("events.out.tfevents.*"):
        old.unlink()

    from tensorboard.plugins.scalar.metadata import create_summary_metadata

    # One compiled loop for all tags (the tag is a tensor, so it traces once) instead of
    # one eager op per value: a million-step log would otherwise take minutes.
    scalar_meta = create_summary_metadata(display_name=None, description=None)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string),
                                  tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None], tf.float32)])
    def write(tag, steps, values):
        for i in tf.range(tf.shape(steps)[0]):
            tf.summary.write(tag, values[i], step=steps[i], metadata=scalar_meta)

    def series(tag: str, steps: np.ndarray, values: np.ndarray, finite_only: bool) -> None:
        values = np.asarray(values, np.float64)
        if finite_only:
            keep = np.isfinite(values)
            steps, values = steps[keep], values[keep]
        for a in range(0, len(steps), _CHUNK):
            write(tag, tf.constant(steps[a:a + _CHUNK], tf.int64),
                  tf.constant(values[a:a + _CHUNK], tf.float32))

    writer = tf.summary.create_file_writer(str(out))
    try:
        with writer.as_default():
            tf.summary.text("preset", _preset_text(log), step=0)
            s = log.steps
            series("train/loss", s["step"], s["loss"], False)
            series("train/lr", s["step"], s["lr"], False)
            series("train/accuracy", s["step"], s["accuracy"], True)
            series("train/grad_norm", s["step"], s["grad_norm"], True)
            epochs = sorted(log.epochs, key=lambda e: e.step)
            e_steps = np.array([e.step for e in epochs], np.int64)
            for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
                vals = np.array([e.metrics.get(name, math.nan) for e in epochs], np.float64)
                series(f"epoch/{name}", e_steps, vals, True)
            layers = log.layers
            for steps, norms in _grad_norm_chunks(log):
                for j in range(norms.shape[1]):
                    layer = layers[j] if j < len(layers) else f"layer_{j}"
                    series(f"grad_norm/{layer}", steps, norms[:, j], True)
        writer.flush()
    finally:
        writer.close()
    return out
