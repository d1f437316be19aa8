"""The learning-rate schedule's interface (:class:`LRSchedule`) and the constant one.

Every schedule in :mod:`tuitrain.engine.schedules` and :mod:`tuitrain.engine.plateau`
derives from :class:`LRSchedule`: ``lr_at(step, epoch)``, ``on_epoch_end``, ``rebased``
(scaled to continue from a given lr) and ``describe``. :class:`ConstantSchedule` lives
here because rebasing a curve that sits at 0 falls back to it.
"""

from __future__ import annotations

import copy
import math
from typing import Any


def short_number(x: float) -> str:
    """A number for a formula: whole step counts whole, rates to 4 significant digits."""
    # Step counts read better whole ("20000", not "2e+04"); rates keep 4 significant digits.
    if float(x).is_integer() and 1 <= abs(x) < 1e9:
        return str(int(x))
    return f"{x:.4g}"


class LRSchedule:
    """A learning rate as a function of (step, epoch), plus plateau state for performance."""

    kind: str = "constant"
    per: str = "step"

    def __init__(self, *, origin_step: int = 0, origin_epoch: int = 0, scale: float = 1.0):
        self.origin_step = int(origin_step)
        self.origin_epoch = int(origin_epoch)
        # Rebasing multiplies the whole curve, so a user's lr change keeps the shape.
        self.scale = float(scale)

    def _value(self, t: float) -> float:
        raise NotImplementedError

    def _formula(self) -> str:
        raise NotImplementedError

    def lr_at(self, step: int, epoch: int) -> float:
        """Learning rate for the step about to run (0-based global step and epoch)."""
        if self.per == "epoch":
            t = max(epoch - self.origin_epoch, 0)
        else:
            t = max(step - self.origin_step, 0)
        return self.scale * self._value(t)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> str | None:
        """Update plateau state; a short message when the lr changed, else None."""
        return None

    def rebased(self, step: int, epoch: int, lr: float) -> "LRSchedule":
        """A copy scaled so that ``lr_at(step, epoch) == lr``; falls back to a constant."""
        now = self.lr_at(step, epoch)
        if not (now > 0 and math.isfinite(now)):
            # A curve at 0 (cosine end, alpha 0) cannot be scaled to reach lr.
            return ConstantSchedule(lr, origin_step=step, origin_epoch=epoch)
        new = copy.copy(self)
        new.scale = self.scale * (lr / now)
        return new

    def describe(self) -> str:
        """One line for the dashboard and the run log."""
        if self.per == "epoch":
            origin = f", epoch counted from {self.origin_epoch}" if self.origin_epoch else ""
            return f"{self.kind} per epoch: {self._formula()}{origin}"
        origin = f", t = step - {self.origin_step}" if self.origin_step else ""
        return f"{self.kind}: {self._formula()}{origin}"

    @property
    def _t(self) -> str:
        return "epoch" if self.per == "epoch" else "t"


class ConstantSchedule(LRSchedule):
    """The optimizer's lr, unchanged."""

    kind = "constant"

    def __init__(self, lr: float, **kw: Any):
        super().__init__(**kw)
        self.lr = float(lr)

    def _value(self, t: float) -> float:
        return self.lr

    def _formula(self) -> str:
        return short_number(self.scale * self.lr)
