"""Preset sections of the optimization: optimizers, learning-rate schedules, clipping."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from tuitrain.preset.vocab import StrictModel


# --------------------------------------------------------------------------- optimizers

LearningRate = Annotated[float, Field(gt=0, le=100)]
Beta = Annotated[float, Field(gt=0, lt=1)]


class _Opt(StrictModel):
    learning_rate: LearningRate = 0.001
    """Initial learning rate (the schedule's start unless it sets its own)."""


class SGD(_Opt):
    """Stochastic gradient descent, with momentum and Nesterov."""

    name: Literal["sgd"]
    """Optimizer."""
    momentum: float = Field(0.0, ge=0, lt=1)
    """Momentum factor (0.9 in the chapter)."""
    nesterov: bool = False
    """Nesterov accelerated gradient."""


class Adagrad(_Opt):
    """AdaGrad."""

    name: Literal["adagrad"]
    """Optimizer."""
    initial_accumulator_value: float = Field(0.1, ge=0)
    """Starting value of the squared-gradient accumulators."""
    epsilon: float = Field(1e-7, gt=0)
    """Numerical stability term."""


class RMSprop(_Opt):
    """RMSProp."""

    name: Literal["rmsprop"]
    """Optimizer."""
    rho: Beta = 0.9
    """Decay of the squared-gradient average."""
    momentum: float = Field(0.0, ge=0, lt=1)
    """Momentum factor."""
    epsilon: float = Field(1e-7, gt=0)
    """Numerical stability term."""
    centered: bool = False
    """Normalize by the estimated variance instead of the second moment."""


class Adam(_Opt):
    """Adam, AdaMax and Nadam share these hyperparameters."""

    name: Literal["adam", "adamax", "nadam"]
    """Optimizer."""
    beta_1: Beta = 0.9
    """Decay of the first-moment estimate."""
    beta_2: Beta = 0.999
    """Decay of the second-moment estimate."""
    epsilon: float = Field(1e-7, gt=0)
    """Numerical stability term."""
    amsgrad: bool = False
    """AMSGrad variant (Adam only)."""

    @model_validator(mode="after")
    def _amsgrad_adam_only(self) -> "Adam":
        if self.amsgrad and self.name != "adam":
            raise ValueError(f"amsgrad: applies to adam only, not {self.name}")
        return self


class AdamW(_Opt):
    """Adam with decoupled weight decay."""

    name: Literal["adamw"]
    """Optimizer."""
    weight_decay: float = Field(0.004, ge=0, lt=1)
    """Decoupled weight decay (1e-5 in the chapter)."""
    beta_1: Beta = 0.9
    """Decay of the first-moment estimate."""
    beta_2: Beta = 0.999
    """Decay of the second-moment estimate."""
    epsilon: float = Field(1e-7, gt=0)
    """Numerical stability term."""
    amsgrad: bool = False
    """AMSGrad variant."""


Optimizer = Annotated[Union[SGD, Adagrad, RMSprop, Adam, AdamW], Field(discriminator="name")]


# --------------------------------------------------------------------------- schedules


class Constant(StrictModel):
    """The optimizer's learning rate, unchanged (controls may still change it)."""

    kind: Literal["constant"]
    """Schedule kind."""


class Exponential(StrictModel):
    """lr = lr0 * decay_rate ** (t / decay_steps), t in steps or epochs (ExponentialDecay)."""

    kind: Literal["exponential"]
    """Schedule kind."""
    decay_steps: float = Field(gt=0)
    """Steps (or epochs) over which lr is multiplied by decay_rate."""
    decay_rate: float = Field(gt=0)
    """Factor per decay_steps (0.1 in the chapter)."""
    staircase: bool = False
    """Decay in discrete jumps."""
    per: Literal["step", "epoch"] = "step"
    """Whether t counts optimizer steps or epochs."""


class Power(StrictModel):
    """Power (inverse-time) scheduling: lr = lr0 / (1 + decay_rate * t / decay_steps)."""

    kind: Literal["power"]
    """Schedule kind (Keras InverseTimeDecay)."""
    decay_steps: float = Field(gt=0)
    """Steps over which the denominator grows by decay_rate."""
    decay_rate: float = Field(1.0, gt=0)
    """Growth of the denominator per decay_steps."""
    staircase: bool = False
    """Decay in discrete jumps."""
    per: Literal["step", "epoch"] = "step"
    """Whether t counts optimizer steps or epochs."""


class Piecewise(StrictModel):
    """Piecewise constant: values[i] until boundaries[i] (PiecewiseConstantDecay)."""

    kind: Literal["piecewise"]
    """Schedule kind."""
    boundaries: list[float] = Field(min_length=1)
    """Increasing step (or epoch) boundaries."""
    values: list[LearningRate] = Field(min_length=2)
    """Learning rates, one more than boundaries."""
    per: Literal["step", "epoch"] = "step"
    """Whether boundaries count optimizer steps or epochs."""

    @model_validator(mode="after")
    def _shape(self) -> "Piecewise":
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"values: needs exactly one more entry than boundaries "
                f"({len(self.boundaries)} boundaries, {len(self.values)} values)"
            )
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError("boundaries: must be strictly increasing")
        return self


class Performance(StrictModel):
    """Performance scheduling: multiply lr by factor when a metric stops improving."""

    kind: Literal["performance"]
    """Schedule kind (Keras ReduceLROnPlateau)."""
    monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"] = "val_loss"
    """Metric watched at each epoch end."""
    factor: float = Field(0.5, gt=0, lt=1)
    """Multiplier applied to lr on a plateau."""
    patience: int = Field(5, ge=0)
    """Epochs without improvement before lr is reduced."""
    min_delta: float = Field(1e-4, ge=0)
    """Smallest change counted as an improvement."""
    cooldown: int = Field(0, ge=0)
    """Epochs to wait after a reduction before watching again."""
    min_lr: float = Field(0.0, ge=0)
    """Lower bound on lr."""


class OneCycle(StrictModel):
    """1cycle (chapter 11's definition): up linearly, down linearly, then annihilate."""

    kind: Literal["one_cycle"]
    """Schedule kind."""
    max_lr: LearningRate
    """Peak learning rate (required)."""
    start_lr: LearningRate | None = None
    """Starting learning rate; default max_lr / 10."""
    last_iterations: int | None = Field(None, ge=1)
    """Steps of the final annihilation phase; default iterations // 10 + 1."""
    last_lr: LearningRate | None = None
    """Final learning rate; default start_lr / 1000."""


class Cosine(StrictModel):
    """Cosine decay (Keras CosineDecay), with optional linear warm-up."""

    kind: Literal["cosine"]
    """Schedule kind."""
    decay_steps: int = Field(gt=0)
    """Steps over which lr decays from lr0 to alpha * lr0."""
    alpha: float = Field(0.0, ge=0, le=1)
    """Final fraction of lr0."""
    warmup_steps: int = Field(0, ge=0)
    """Linear warm-up steps before the decay."""
    warmup_target: LearningRate | None = None
    """lr reached at the end of warm-up (default: no warm-up target, lr0)."""


class LRFinder(StrictModel):
    """Learning-rate finder: lr grows exponentially from min_lr to max_lr over the run."""

    kind: Literal["lr_finder"]
    """Schedule kind (R24)."""
    min_lr: LearningRate = 1e-4
    """Learning rate at the first step."""
    max_lr: LearningRate = 1.0
    """Learning rate at the last step."""

    @model_validator(mode="after")
    def _order(self) -> "LRFinder":
        if self.max_lr <= self.min_lr:
            raise ValueError("max_lr: must be greater than min_lr")
        return self


Schedule = Annotated[
    Union[Constant, Exponential, Power, Piecewise, Performance, OneCycle, Cosine, LRFinder],
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- the rest


class Clipping(StrictModel):
    """Gradient clipping; also changeable live."""

    mode: Literal["off", "value", "norm", "global_norm"] = "off"
    """off; clip each value to [-t, t]; each tensor's norm to t; or the global norm to t."""
    threshold: float = Field(1.0, gt=0)
    """Clipping threshold t."""
