"""The events a training run produces: small, immutable, JSON-serializable.

One stream, three consumers: the run log writes it, the live dashboard draws it, review
and attach replay it from a run folder. ``to_dict`` / ``event_from_dict`` are the JSON-lines
form; every record carries ``kind`` and ``t`` (unix time, seconds).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

# Columns of GradStats.values, in order. Gradient figures are over all trainable
# variables of the layer (kernel and bias together).
STAT_COLUMNS: tuple[str, ...] = (
    "norm",          # L2 norm of the layer's gradient (after clipping)
    "mean",          # mean gradient value
    "std",           # standard deviation of gradient values
    "max_abs",       # largest |g|
    "zero_frac",     # fraction of gradient entries exactly 0
    "nonfinite",     # count of NaN/inf gradient entries
    "weight_norm",   # L2 norm of the layer's weights
    "update_ratio",  # ||applied update|| / ||weights||
    "act_mean",      # mean of the layer's output activations (NaN if not measured)
    "act_std",       # std of the layer's output activations (NaN if not measured)
)
# Measured on every statistics step; the others on every ``stats.full_every`` steps.
CORE_COLUMNS: tuple[str, ...] = ("norm", "mean", "std", "zero_frac", "nonfinite")


def not_core(columns=STAT_COLUMNS) -> list[int]:
    """Indices of ``columns`` that a ``GradStats.core_only`` sample leaves unmeasured."""
    return [i for i, c in enumerate(columns) if c not in CORE_COLUMNS]

RUN_STATUSES = ("finished", "stopped", "failed", "interrupted")


@dataclass(frozen=True)
class Event:
    """Base of all events."""

    kind: ClassVar[str] = "event"
    t: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class RunStarted(Event):
    """First event of every run."""

    kind: ClassVar[str] = "run_started"
    run_id: str
    preset: dict[str, Any]            # the resolved preset as run (JSON form)
    layers: list[str]                 # names of the layers GradStats rows describe, input first
    layer_info: list[dict[str, Any]]  # per model layer: name, type, params, trainable, output_shape
    total_params: int
    trainable_params: int
    device: str                       # e.g. "CPU" or "GPU: NVIDIA H200 (139 GiB)"
    strategy: str                     # e.g. "default", "MirroredStrategy(2)"
    steps_per_epoch: int
    epochs: int
    train_samples: int
    val_samples: int
    data_source: str                  # where the data came from (path or "embedded subset")
    notices: list[str] = field(default_factory=list)  # preset advisories, data fallbacks
    pid: int = 0


@dataclass(frozen=True)
class Step(Event):
    """One optimizer step (the writer may keep every step; views decimate)."""

    kind: ClassVar[str] = "step"
    step: int                 # global step, 1-based after the step ran
    epoch: int                # 0-based epoch the step belongs to
    loss: float
    accuracy: float | None
    lr: float                 # learning rate used for this step
    clip_mode: str            # off / value / norm / global_norm
    clip_threshold: float
    grad_norm: float          # global gradient norm before clipping
    clipped: bool             # whether clipping changed the gradients
    samples_per_s: float


@dataclass(frozen=True)
class GradStats(Event):
    """Per-layer statistics at one step; rows follow RunStarted.layers."""

    kind: ClassVar[str] = "grad_stats"
    step: int
    epoch: int
    columns: list[str]          # STAT_COLUMNS
    values: list[list[float]]   # len(layers) rows x len(columns); None for not measured
                                # (the log writes NaN/inf as the strings "NaN", "Infinity")
    frozen: list[bool]          # per layer: not trainable at this step
    core_only: bool = False     # only CORE_COLUMNS measured at this step (the rest NaN)


@dataclass(frozen=True)
class EpochEnd(Event):
    """End of an epoch with train and validation metrics."""

    kind: ClassVar[str] = "epoch_end"
    epoch: int                  # 0-based
    step: int
    metrics: dict[str, float]   # loss, accuracy, val_loss, val_accuracy (as available)
    lr: float
    duration_s: float


@dataclass(frozen=True)
class ControlApplied(Event):
    """A command took effect at ``step`` (the journal of what was done to the run)."""

    kind: ClassVar[str] = "control"
    step: int
    command: str                # pause, resume, stop, set_lr, scale_lr, set_clip,
                                # set_schedule, checkpoint, unfreeze, schedule (automatic)
    args: dict[str, Any]
    source: str                 # "ui", "signal", "cli", "schedule", "api", "viewer:<pid>"...


@dataclass(frozen=True)
class Alert(Event):
    """Something the user must see: non-finite values, data fallbacks, failures."""

    kind: ClassVar[str] = "alert"
    step: int
    level: str                  # info / warning / error
    message: str
    layer: str | None = None    # first layer (input side) affected, for non-finite values


@dataclass(frozen=True)
class Checkpoint(Event):
    """Weights saved."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str                   # relative to the run folder


@dataclass(frozen=True)
class Evaluated(Event):
    """Final evaluation on the test set (and MC dropout, when asked)."""

    kind: ClassVar[str] = "evaluated"
    step: int
    metrics: dict[str, float]   # test_loss, test_accuracy, mc_test_accuracy ...


@dataclass(frozen=True)
class RunEnded(Event):
    """Last event of every run."""

    kind: ClassVar[str] = "run_ended"
    status: str                 # one of RUN_STATUSES
    step: int
    epoch: int
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (RunStarted, Step, GradStats, EpochEnd, ControlApplied, Alert, Checkpoint,
                Evaluated, RunEnded)
}


def event_from_dict(d: dict[str, Any]) -> Event | None:
    """Rebuild an event from its JSON form; None for an unknown kind (newer writer)."""
    cls = EVENT_TYPES.get(d.get("kind", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
