"""Learning-rate schedules as plain Python objects the engine queries before every step.

:func:`make_schedule` turns a preset schedule model (or its dict form, as sent by
``Control.set_schedule``) into an :class:`LRSchedule`. The engine calls
``lr_at(step, epoch)`` before each step and writes the value into the optimizer's
learning-rate variable, calls ``on_epoch_end`` with the epoch's metrics, and replaces the
object when the user swaps schedules or sets the lr (``rebased``). No TensorFlow here: the
formulas are the ones Keras and chapter 11 use, written in float math, so the hot path costs
a few microseconds.

Time: per-step schedules use ``t = step - origin_step`` (``step`` is the 0-based global step,
the value Keras passes its LearningRateSchedule); per-epoch ones use
``t = epoch - origin_epoch`` and ignore the step (like ``LearningRateScheduler``).

Per-epoch piecewise boundaries are exclusive (value i applies while ``t < boundaries[i]``,
the chapter's ``if epoch < 5`` style); per-step ones follow PiecewiseConstantDecay
(``t <= boundaries[0]`` gives ``values[0]``).

The interface and the constant schedule are in :mod:`tuitrain.engine.schedule_base`,
performance scheduling in :mod:`tuitrain.engine.plateau`; the curves of the step (the
Keras decays, piecewise, cosine, 1cycle, the lr finder) and :func:`make_schedule` here.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import TypeAdapter

from tuitrain.engine.plateau import PlateauSchedule
from tuitrain.engine.schedule_base import ConstantSchedule, LRSchedule, short_number
from tuitrain.preset import Schedule

_adapter: TypeAdapter = TypeAdapter(Schedule)


class _DecaySchedule(LRSchedule):
    """Shared by the Keras decays: lr0, decay_steps, decay_rate, staircase, per."""

    def __init__(self, lr0: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, per: str = "step", **kw: Any):
        super().__init__(**kw)
        self.lr0, self.decay_steps, self.decay_rate = float(lr0), float(decay_steps), float(decay_rate)
        self.staircase, self.per = bool(staircase), per

    def _progress(self, t: float) -> float:
        p = t / self.decay_steps
        return math.floor(p) if self.staircase else p

    def _progress_text(self, wrap: bool) -> str:
        p = f"{self._t}/{short_number(self.decay_steps)}"
        return f"floor({p})" if self.staircase else f"({p})" if wrap else p


class ExponentialSchedule(_DecaySchedule):
    """lr0 * rate ** (t / decay_steps): Keras ExponentialDecay, or R19 per epoch."""

    kind = "exponential"

    def _value(self, t: float) -> float:
        return self.lr0 * self.decay_rate ** self._progress(t)

    def _formula(self) -> str:
        return f"{short_number(self.scale * self.lr0)} * {short_number(self.decay_rate)}^{self._progress_text(True)}"


class PowerSchedule(_DecaySchedule):
    """lr0 / (1 + rate * t / decay_steps): Keras InverseTimeDecay."""

    kind = "power"

    def _value(self, t: float) -> float:
        return self.lr0 / (1.0 + self.decay_rate * self._progress(t))

    def _formula(self) -> str:
        return f"{short_number(self.scale * self.lr0)} / (1 + {short_number(self.decay_rate)}*{self._progress_text(False)})"


class PiecewiseSchedule(LRSchedule):
    """Piecewise constant; inclusive boundaries per step (Keras), exclusive per epoch."""

    kind = "piecewise"

    def __init__(self, boundaries: list[float], values: list[float], per: str = "step", **kw: Any):
        super().__init__(**kw)
        self.boundaries = [float(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.per = per

    def _value(self, t: float) -> float:
        for b, v in zip(self.boundaries, self.values):
            if (t < b) if self.per == "epoch" else (t <= b):
                return v
        return self.values[-1]

    def _formula(self) -> str:
        op = "<" if self.per == "epoch" else "<="
        parts = [f"{short_number(self.scale * v)} while {self._t}{op}{short_number(b)}"
                 for b, v in zip(self.boundaries, self.values)]
        return ", ".join(parts) + f", then {short_number(self.scale * self.values[-1])}"


class CosineSchedule(LRSchedule):
    """Keras CosineDecay: optional linear warm-up to warmup_target, then cosine to alpha."""

    kind = "cosine"

    def __init__(self, lr0: float, decay_steps: int, alpha: float = 0.0,
                 warmup_steps: int = 0, warmup_target: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.lr0, self.decay_steps, self.alpha = float(lr0), float(decay_steps), float(alpha)
        self.warmup_steps = float(warmup_steps)
        self.warmup_target = None if warmup_target is None else float(warmup_target)

    def _decay(self, t: float, start: float) -> float:
        cos = 0.5 * (1.0 + math.cos(math.pi * t / self.decay_steps))
        return start * ((1.0 - self.alpha) * cos + self.alpha)

    def _value(self, t: float) -> float:
        # As in Keras, warmup_steps only counts when a warmup_target is given.
        if self.warmup_target is None:
            return self._decay(min(t, self.decay_steps), self.lr0)
        t = min(t, self.decay_steps + self.warmup_steps)
        if t < self.warmup_steps:
            return (self.warmup_target - self.lr0) * (t / self.warmup_steps) + self.lr0
        return self._decay(t - self.warmup_steps, self.warmup_target)

    def _formula(self) -> str:
        s = self.scale
        top = self.lr0 if self.warmup_target is None else self.warmup_target
        warm = ""
        if self.warmup_target is not None and self.warmup_steps > 0:
            warm = f"{short_number(s * self.lr0)} -> {short_number(s * top)} over {short_number(self.warmup_steps)} steps, then "
        return f"{warm}{short_number(s * top)} -> {short_number(s * top * self.alpha)} over {short_number(self.decay_steps)} steps"


class OneCycleSchedule(LRSchedule):
    """1cycle exactly as chapter 11's OneCycleScheduler (t = the notebook's iteration)."""

    kind = "one_cycle"

    def __init__(self, iterations: int, max_lr: float, start_lr: float | None = None,
                 last_iterations: int | None = None, last_lr: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.iterations = int(iterations)
        self.max_lr = float(max_lr)
        self.start_lr = start_lr or max_lr / 10
        self.last_iterations = last_iterations or self.iterations // 10 + 1
        self.half_iteration = (self.iterations - self.last_iterations) // 2
        self.last_lr = last_lr or self.start_lr / 1000

    @staticmethod
    def _interpolate(t: float, iter1: float, iter2: float, lr1: float, lr2: float) -> float:
        return (lr2 - lr1) * (t - iter1) / (iter2 - iter1) + lr1

    def _value(self, t: float) -> float:
        # The notebook never runs past `iterations`; beyond it we hold last_lr instead of
        # extrapolating the line below zero.
        t = min(t, self.iterations)
        h = self.half_iteration
        if t < h:
            return self._interpolate(t, 0, h, self.start_lr, self.max_lr)
        if t < 2 * h:
            return self._interpolate(t, h, 2 * h, self.max_lr, self.start_lr)
        return self._interpolate(t, 2 * h, self.iterations, self.start_lr, self.last_lr)

    def _formula(self) -> str:
        s, h = self.scale, self.half_iteration
        return (f"{short_number(s * self.start_lr)} -> {short_number(s * self.max_lr)} at t={h} -> "
                f"{short_number(s * self.start_lr)} at t={2 * h} -> {short_number(s * self.last_lr)} at t={self.iterations}")


class LRFinderSchedule(LRSchedule):
    """Exponential growth from min_lr (first step) to max_lr (last step), then held."""

    kind = "lr_finder"

    def __init__(self, min_lr: float, max_lr: float, span: int, **kw: Any):
        super().__init__(**kw)
        self.min_lr, self.max_lr, self.span = float(min_lr), float(max_lr), int(span)

    def _value(self, t: float) -> float:
        last = max(self.span - 1, 1)
        return self.min_lr * (self.max_lr / self.min_lr) ** (min(t, last) / last)

    def _formula(self) -> str:
        return (f"{short_number(self.scale * self.min_lr)} -> {short_number(self.scale * self.max_lr)} "
                f"exponentially over {self.span} steps")


def make_schedule(cfg: Any, *, base_lr: float, steps_per_epoch: int, total_steps: int,
                  origin_step: int = 0, origin_epoch: int = 0,
                  keep_lr: float | None = None) -> LRSchedule:
    """Build the schedule for a preset model (or its dict); t = 0 at the origin.

    ``total_steps`` is the number of steps left from the origin (1cycle's iterations, the
    finder's span); ``steps_per_epoch`` is accepted for callers' symmetry and unused by the
    current formulas. With ``keep_lr`` the result is scaled to start at that value.
    """
    if isinstance(cfg, dict):
        cfg = _adapter.validate_python(cfg)
    kw = {"origin_step": origin_step, "origin_epoch": origin_epoch}
    span = max(int(total_steps), 1)
    kind = cfg.kind
    if kind == "constant":
        sched: LRSchedule = ConstantSchedule(base_lr, **kw)
    elif kind == "exponential":
        sched = ExponentialSchedule(base_lr, cfg.decay_steps, cfg.decay_rate, cfg.staircase, cfg.per, **kw)
    elif kind == "power":
        sched = PowerSchedule(base_lr, cfg.decay_steps, cfg.decay_rate, cfg.staircase, cfg.per, **kw)
    elif kind == "piecewise":
        sched = PiecewiseSchedule(cfg.boundaries, cfg.values, cfg.per, **kw)
    elif kind == "performance":
        sched = PlateauSchedule(base_lr, cfg.monitor, cfg.factor, cfg.patience, cfg.min_delta,
                                cfg.cooldown, cfg.min_lr, **kw)
    elif kind == "one_cycle":
        sched = OneCycleSchedule(span, cfg.max_lr, cfg.start_lr, cfg.last_iterations, cfg.last_lr, **kw)
    elif kind == "cosine":
        sched = CosineSchedule(base_lr, cfg.decay_steps, cfg.alpha, cfg.warmup_steps, cfg.warmup_target, **kw)
    elif kind == "lr_finder":
        sched = LRFinderSchedule(cfg.min_lr, cfg.max_lr, span, **kw)
    else:  # pragma: no cover - the preset's discriminated union forbids other kinds
        raise ValueError(f"unknown schedule kind {kind!r}")
    if keep_lr is not None:
        sched = sched.rebased(origin_step, origin_epoch, keep_lr)
    return sched
