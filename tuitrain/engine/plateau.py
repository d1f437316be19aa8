"""Performance scheduling: the lr drops by a factor when a metric stops improving.

:class:`PlateauSchedule` follows ``keras.callbacks.ReduceLROnPlateau``'s rules exactly
(patience, min_delta, cooldown, min_lr, float32 comparisons); tests hold it to Keras'
own callback epoch by epoch.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from tuitrain.engine.schedule_base import LRSchedule, short_number


class PlateauSchedule(LRSchedule):
    """Performance scheduling with keras.callbacks.ReduceLROnPlateau's exact rules."""

    kind = "performance"
    per = "epoch"

    def __init__(self, lr: float, monitor: str = "val_loss", factor: float = 0.5,
                 patience: int = 5, min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0, **kw: Any):
        super().__init__(**kw)
        self.lr = float(lr)
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), float(min_lr)
        # Keras' "auto" mode: metrics whose name contains "acc" are maximised.
        self.maximize = "acc" in monitor
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def lr_at(self, step: int, epoch: int) -> float:
        return self.lr

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        # Keras compares with ops.less/greater, i.e. in float32; match it at the edges.
        f32 = np.float32
        if self.maximize:
            return bool(f32(value - self.min_delta) > f32(self.best))
        return bool(f32(value + self.min_delta) < f32(self.best))

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> str | None:
        value = metrics.get(self.monitor)
        if value is None:
            return None
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
            return None
        if self.cooldown_counter > 0:
            return None
        self.wait += 1
        if self.wait < self.patience:
            return None
        # Keras reads the lr back from a float32 variable before multiplying; so do we,
        # or the floor test and cooldown would drift from Keras after a few reductions.
        old = float(np.float32(self.lr))
        if not old > np.float32(self.min_lr):
            return None
        self.lr = max(old * self.factor, self.min_lr)
        self.cooldown_counter, self.wait = self.cooldown, 0
        return f"{self.monitor} plateau: lr {short_number(old)} -> {short_number(self.lr)}"

    def rebased(self, step: int, epoch: int, lr: float) -> "LRSchedule":
        new = copy.copy(self)
        new.lr = float(lr)
        return new

    def _formula(self) -> str:
        return (f"lr {short_number(self.lr)}, x{short_number(self.factor)} after {self.patience} epochs without "
                f"{self.monitor} improvement (min_delta {short_number(self.min_delta)}, "
                f"cooldown {self.cooldown}, min_lr {short_number(self.min_lr)})")

    def describe(self) -> str:
        return f"{self.kind}: {self._formula()}"
