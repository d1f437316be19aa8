"""The Keras callback through which the engine acts between steps.

Keras calls ``on_train_batch_begin`` / ``on_train_batch_end`` synchronously around each
step, so this is where the engine sets the learning rate, picks the compiled variant
(no statistics, the core ones or all of them; clipping mode), emits step events, applies
queued commands, and waits while paused: the step counter really stops.
"""

from __future__ import annotations

import gc
import math
import time
from typing import TYPE_CHECKING

import keras
import numpy as np

from tuitrain.engine.events import STAT_COLUMNS, Alert, EpochEnd, GradStats, Step
from tuitrain.engine.instrumented import first_nonfinite_layer

if TYPE_CHECKING:
    from tuitrain.engine.trainer import Trainer


class EngineHooks(keras.callbacks.Callback):
    """Per-step work of one :class:`Trainer`; holds no state of its own."""

    def __init__(self, trainer: "Trainer"):
        super().__init__()
        self.tr = trainer
        self._last_end = None
        self._rate = 0.0

    def on_train_begin(self, logs=None):
        # Keras, TensorFlow and the app hold hundreds of thousands of long-lived objects;
        # a full collection walks them all, 0.2-0.3 s with the GIL held, and stalls the
        # training thread. Frozen objects are skipped by the collector (they are still
        # freed by reference counting); the trainer unfreezes them when the run ends.
        gc.freeze()

    def on_epoch_begin(self, epoch, logs=None):
        self.tr.epoch = epoch
        self.tr.epoch_started = time.time()

    def on_train_batch_begin(self, batch, logs=None):
        tr = self.tr
        lr = tr.schedule.lr_at(tr.step, tr.epoch)
        if lr != tr.lr:
            tr.optimizer.learning_rate.assign(lr)
            tr.lr = lr
        stats = tr.step % tr.stats_every == 0
        # The costlier figures at most every full_every steps (see StatsConfig.full_every).
        full = stats and (tr.last_full_stats is None or tr.step - tr.last_full_stats >= tr.full_every)
        if full:
            tr.last_full_stats = tr.step
        tr.model.select(stats, full)

    def on_train_batch_end(self, batch, logs=None):
        tr = self.tr
        logs = logs or {}
        tr.step += 1
        now = time.perf_counter()
        if self._last_end is not None:
            inst = tr.batch_size / max(now - self._last_end, 1e-9)
            self._rate = inst if self._rate == 0 else 0.9 * self._rate + 0.1 * inst
        self._last_end = now
        loss = float(logs.get("loss", math.nan))
        acc = logs.get("accuracy", logs.get("binary_accuracy"))
        gnorm = float(logs.get("tt_gnorm", math.nan))
        tr.emit(Step(
            step=tr.step, epoch=tr.epoch, loss=loss,
            accuracy=None if acc is None else float(acc), lr=float(tr.lr),
            clip_mode=tr.clip_mode, clip_threshold=tr.clip_threshold, grad_norm=gnorm,
            clipped=bool(logs.get("tt_clipped", 0.0) > 0.5), samples_per_s=self._rate,
        ))
        stats = tr.model.stats_table(logs)
        if stats is not None:
            tr.last_stats = stats
            tr.emit(GradStats(
                step=tr.step, epoch=tr.epoch, columns=list(STAT_COLUMNS),
                values=_rows_with_none(stats),
                frozen=tr.frozen, core_only=not tr.model.stats_plan().full,
            ))
        bad = not math.isfinite(loss) or ("tt_gnorm" in logs and not math.isfinite(gnorm))
        if bad and not tr.nonfinite_seen:
            self._nonfinite(loss, stats)
        if tr.interrupted:
            tr.request_stop("interrupted", "signal", "interrupted by a signal")
        if tr.control.pending():
            tr.apply_commands(tr.control.drain())
        while tr.paused and not tr.model.stop_training:
            tr.apply_commands(tr.control.wait(timeout=0.5))
            if tr.interrupted:
                tr.request_stop("interrupted", "signal", "interrupted by a signal")
        self._last_end = time.perf_counter()  # a pause is not slow training

    def _nonfinite(self, loss: float, stats: np.ndarray | None) -> None:
        tr = self.tr
        tr.nonfinite_seen = True
        layer = None
        names = tr.model.stat_layer_names()
        if stats is not None:
            bad = np.nonzero((stats[:, 5] > 0) | ~np.isfinite(stats[:, 0]))[0]
            if len(bad):
                layer = names[int(bad[0])]
        if layer is None:
            layer = first_nonfinite_layer(tr.model)
        what = "loss" if not math.isfinite(loss) else "gradients"
        where = f", first in layer {layer}" if layer else ""
        message = f"non-finite {what} at step {tr.step}{where}"
        tr.emit(Alert(step=tr.step, level="error", message=message, layer=layer))
        if tr.preset.train.pause_on_nonfinite:
            if tr.headless:
                tr.request_stop("stopped", "nonfinite", message)
            else:
                tr.control.send("pause", source="nonfinite")

    def on_epoch_end(self, epoch, logs=None):
        tr = self.tr
        metrics = {}
        for key, value in (logs or {}).items():
            if key.startswith("tt_"):
                continue
            try:
                metrics[key.replace("binary_accuracy", "accuracy")] = float(value)
            except (TypeError, ValueError):
                pass
        tr.epochs_done = epoch + 1
        tr.last_metrics = metrics
        gc.freeze()   # what survived an epoch (traced functions included) is long-lived
        tr.emit(EpochEnd(epoch=epoch, step=tr.step, metrics=metrics, lr=float(tr.lr),
                         duration_s=time.time() - tr.epoch_started))
        message = tr.schedule.on_epoch_end(epoch, metrics)
        if message:
            tr.journal("schedule", {"message": message,
                                    "lr": tr.schedule.lr_at(tr.step, epoch + 1)}, "schedule")


def _rows_with_none(stats: np.ndarray) -> list[list[float | None]]:
    """The table as lists, None where a figure is not measured or not finite.

    ``tolist`` and a fix-up of the few non-finite cells: a check of every cell in Python
    costs 0.1 ms per statistics step of a 100-layer net, on the training thread.
    """
    rows = stats.tolist()
    for r, c in zip(*np.nonzero(~np.isfinite(stats))):
        rows[r][c] = None
    return rows
