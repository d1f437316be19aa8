"""Presets: the pydantic models that describe one training run, and how to load them.

A preset is a TOML file validated by :class:`Preset`. Loading goes through
:func:`load_preset`, which applies ``--set key=value`` overrides before validation, so an
override is checked exactly like the file. Every failure is a :class:`PresetError` that
names the file, the field path and the reason, ready to print on one line.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator,
)

# --------------------------------------------------------------------------- vocabulary

ActivationName = Literal[
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "swish",
    "mish", "softmax", "softplus", "hard_sigmoid",
]
InitializerName = Literal[
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform", "zeros", "ones", "random_normal", "random_uniform",
]


class StrictModel(BaseModel):
    """Base of every preset section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, use_attribute_docstrings=True
    )


class LeakyReLU(StrictModel):
    """An activation with a parameter (``{ name = "leaky_relu", alpha = 0.2 }``)."""

    name: Literal["leaky_relu", "elu"]
    """Which parametrised activation."""
    alpha: float = Field(0.2, gt=0, le=10)
    """Negative slope of leaky ReLU, or the saturation value of ELU."""


Activation = Annotated[Union[ActivationName, LeakyReLU], Field(union_mode="left_to_right")]


class VarianceScaling(StrictModel):
    """keras.initializers.VarianceScaling with its arguments (e.g. He with fan_avg)."""

    name: Literal["variance_scaling"] = "variance_scaling"
    """Always ``variance_scaling``."""
    scale: float = Field(1.0, gt=0)
    """Variance scale factor (2 for He, 1 for LeCun/Glorot)."""
    mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in"
    """Which fan the variance is divided by."""
    distribution: Literal["truncated_normal", "untruncated_normal", "uniform"] = (
        "truncated_normal"
    )
    """Distribution the weights are drawn from."""


Initializer = Annotated[Union[InitializerName, VarianceScaling], Field(union_mode="left_to_right")]


class Regularizer(StrictModel):
    """A weight penalty added to the loss."""

    kind: Literal["l1", "l2", "l1_l2"]
    """Which penalty."""
    l1: float = Field(0.0, ge=0)
    """L1 factor (l1 and l1_l2)."""
    l2: float = Field(0.0, ge=0)
    """L2 factor (l2 and l1_l2)."""

    @model_validator(mode="after")
    def _factor_given(self) -> "Regularizer":
        if self.kind == "l1" and self.l1 <= 0:
            raise ValueError("l1: an l1 regularizer needs l1 > 0")
        if self.kind == "l2" and self.l2 <= 0:
            raise ValueError("l2: an l2 regularizer needs l2 > 0")
        if self.kind == "l1_l2" and self.l1 <= 0 and self.l2 <= 0:
            raise ValueError("l1: an l1_l2 regularizer needs l1 > 0 or l2 > 0")
        return self


class MaxNorm(StrictModel):
    """Max-norm weight constraint (keras.constraints.MaxNorm)."""

    max_norm: float = Field(gt=0)
    """Largest allowed norm of each unit's incoming weights."""
    axis: int = 0
    """Axis along which the norm is computed (0: per output unit for Dense)."""


# --------------------------------------------------------------------------- layers


class Dense(StrictModel):
    """A Dense layer, optionally repeated and wrapped with batch normalization."""

    type: Literal["dense"] = "dense"
    """Layer type."""
    units: int = Field(gt=0, le=100_000)
    """Number of units."""
    activation: Activation = "linear"
    """Activation function (a name, or a table with name and alpha)."""
    kernel_initializer: Initializer = "glorot_uniform"
    """Weight initialization: a Keras name or a variance_scaling table."""
    use_bias: bool = True
    """Whether the layer has a bias (off before batch normalization)."""
    kernel_regularizer: Regularizer | None = None
    """Weight penalty, if any."""
    kernel_constraint: MaxNorm | None = None
    """Max-norm constraint, if any."""
    batch_norm: Literal["none", "before", "after"] = "none"
    """Batch normalization before the activation (the layer is then linear, followed by
    BN and an Activation layer) or after it."""
    repeat: int = Field(1, ge=1, le=1000)
    """How many identical layers this entry stands for (100 for the chapter's deep nets)."""


class BatchNorm(StrictModel):
    """A stand-alone BatchNormalization layer."""

    type: Literal["batch_norm"]
    """Layer type."""
    momentum: float = Field(0.99, gt=0, lt=1)
    """Moving-average momentum."""
    epsilon: float = Field(0.001, gt=0)
    """Variance epsilon."""


class Dropout(StrictModel):
    """Dropout or AlphaDropout (for SELU nets)."""

    type: Literal["dropout", "alpha_dropout"]
    """``dropout``, or ``alpha_dropout`` which keeps SELU's self-normalization."""
    rate: float = Field(gt=0, lt=1)
    """Fraction of inputs dropped during training."""


class ActivationLayer(StrictModel):
    """A stand-alone activation layer (e.g. LeakyReLU after a linear Dense)."""

    type: Literal["activation"]
    """Layer type."""
    activation: Activation
    """The activation function."""


class Flatten(StrictModel):
    """Flattens the input images (added automatically first when omitted)."""

    type: Literal["flatten"]
    """Layer type."""


def _layer_type(value: Any) -> str:
    # A table without "type" is a Dense layer: the common case stays short in TOML.
    if isinstance(value, dict):
        t = value.get("type", "dense")
    else:
        t = getattr(value, "type", "dense")
    return "dropout" if t == "alpha_dropout" else t


Layer = Annotated[
    Union[
        Annotated[Dense, Tag("dense")],
        Annotated[BatchNorm, Tag("batch_norm")],
        Annotated[Dropout, Tag("dropout")],
        Annotated[ActivationLayer, Tag("activation")],
        Annotated[Flatten, Tag("flatten")],
    ],
    Discriminator(_layer_type, custom_error_type="layer_type",
                  custom_error_message="unknown layer type (dense, batch_norm, dropout, "
                  "alpha_dropout, activation, flatten)"),
]


class Output(StrictModel):
    """The output layer."""

    units: int = Field(10, gt=0)
    """Number of outputs: classes, or 1 for a binary sigmoid output."""
    activation: Literal["softmax", "sigmoid", "linear"] = "softmax"
    """Output activation."""
    kernel_initializer: Initializer = "glorot_uniform"
    """Weight initialization of the output layer."""
    kernel_regularizer: Regularizer | None = None
    """Weight penalty of the output layer, if any."""
    kernel_constraint: MaxNorm | None = None
    """Max-norm constraint of the output layer, if any."""


class Transfer(StrictModel):
    """Reuse the hidden layers of a saved model (chapter 11, R07)."""

    source: str
    """The model to reuse: a ``.keras`` file, a run folder (its final model), or the name of
    a preset whose latest finished run in the logs folder is used."""
    freeze_epochs: int = Field(4, ge=0)
    """Epochs trained with the reused layers frozen; then they are unfrozen, the optimizer
    is rebuilt from the preset and training continues to ``train.epochs``."""


class ModelConfig(StrictModel):
    """The network: hidden layers in order (input to output), then the output layer."""

    input_shape: tuple[int, ...] = (28, 28)
    """Shape of one input sample."""
    layers: list[Layer] = Field(min_length=0)
    """Hidden layers, input side first; a Flatten is added first if omitted."""
    output: Output = Output()
    """The output layer."""
    transfer: Transfer | None = None
    """Reuse a trained model's hidden layers instead of building new ones."""

    def flat_layers(self) -> list[Any]:
        """The hidden layers with each ``repeat`` expanded."""
        out: list[Any] = []
        for layer in self.layers:
            n = getattr(layer, "repeat", 1)
            out.extend([layer] * n)
        return out


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


class DataConfig(StrictModel):
    """Where the data comes from and how it is split and normalized."""

    dataset: Literal["fashion_mnist", "mnist", "cifar10", "npz"] = "fashion_mnist"
    """Dataset; ``npz`` reads x_train, y_train, x_test, y_test from ``path``."""
    source: Literal["auto", "full", "subset"] = "auto"
    """auto: the full dataset if found, else the embedded subset with a notice; full: fail
    if the full dataset is not found; subset: always the embedded subset (fashion_mnist)."""
    path: str | None = None
    """Folder with the four Fashion-MNIST files, or the ``.npz`` file."""
    task: Literal["all", "transfer_a", "transfer_b"] = "all"
    """Chapter 11's transfer tasks: A = the 8 classes other than T-shirt/top and Pullover
    (labels 0-7); B = Pullover (1) vs T-shirt/top (0)."""
    normalization: Literal["none", "scale", "standardize"] = "scale"
    """none; divide by 255; or per-pixel standardization with training-set mean/std."""
    validation_size: int = Field(5000, ge=0)
    """Training images held out for validation."""
    validation_from: Literal["end", "start"] = "end"
    """Hold out the last images (Fashion-MNIST in the chapter) or the first (CIFAR10)."""
    limit: int | None = Field(None, gt=0)
    """Use only the first N training images (after the task filter): quick runs, R06."""


class EarlyStopping(StrictModel):
    """Stop when a metric stops improving."""

    monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"] = "val_loss"
    """Metric watched at each epoch end."""
    patience: int = Field(10, ge=0)
    """Epochs without improvement before stopping."""
    min_delta: float = Field(0.0, ge=0)
    """Smallest change counted as an improvement."""
    restore_best_weights: bool = True
    """Restore the weights of the best epoch when stopping."""


class TrainConfig(StrictModel):
    """How long and how training runs."""

    epochs: int = Field(gt=0, le=100_000)
    """Epochs to train (for transfer: including the frozen epochs)."""
    batch_size: int = Field(32, gt=0, le=65_536)
    """Batch size."""
    seed: int = 42
    """Random seed (keras.utils.set_random_seed)."""
    shuffle: bool = True
    """Shuffle the training data each epoch."""
    early_stopping: EarlyStopping | None = None
    """Early stopping, if any."""
    restore_weights: bool = False
    """Restore the initial weights at the end (the learning-rate finder)."""
    distribute: Literal["auto", "default", "mirrored"] = "auto"
    """auto: MirroredStrategy when several GPUs are visible, else the default strategy."""
    mixed_precision: bool = False
    """mixed_float16 on GPUs (ignored with a notice on CPU)."""
    pause_on_nonfinite: bool = True
    """Pause (headless: stop) when the loss or a gradient is not finite."""


class StatsConfig(StrictModel):
    """Per-layer gradient statistics."""

    every: int = Field(10, ge=1)
    """Compute per-layer statistics every N steps (1: every step)."""
    activations: bool = True
    """Also record each layer's activation mean and std (Sequential models)."""


class Evaluation(StrictModel):
    """What is measured after training."""

    test: bool = True
    """Evaluate on the test set at the end."""
    mc_dropout_samples: int = Field(0, ge=0, le=10_000)
    """If > 0: also evaluate with MC dropout, averaging this many stochastic passes (R27mc)."""


class Preset(StrictModel):
    """One training run, completely described."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    """Short name (used in run folder names)."""
    description: str = ""
    """One line: what the run shows, and which chapter experiment it reproduces."""
    chapter: str | None = None
    """The chapter-11 run id (R01...R28, X8...) this preset reproduces, if any."""
    data: DataConfig = DataConfig()
    """Data."""
    model: ModelConfig
    """Network."""
    optimizer: Optimizer
    """Optimizer and its hyperparameters."""
    schedule: Schedule = Constant(kind="constant")
    """Learning-rate schedule."""
    clipping: Clipping = Clipping()
    """Gradient clipping."""
    train: TrainConfig
    """Training loop."""
    stats: StatsConfig = StatsConfig()
    """Gradient statistics."""
    evaluation: Evaluation = Evaluation()
    """Final evaluation."""

    @model_validator(mode="after")
    def _consistent(self) -> "Preset":
        out = self.model.output
        task = self.data.task
        if task == "transfer_b" and not (out.units == 1 and out.activation == "sigmoid"):
            raise ValueError("model.output: task transfer_b needs units = 1, activation = sigmoid")
        if task == "transfer_a" and out.units != 8:
            raise ValueError("model.output: task transfer_a has 8 classes: units = 8")
        if task == "all" and out.activation == "softmax" and out.units != 10:
            raise ValueError(f"model.output: {self.data.dataset} has 10 classes, not {out.units}")
        if self.model.transfer is not None and self.model.transfer.freeze_epochs >= self.train.epochs:
            raise ValueError("model.transfer.freeze_epochs: must be less than train.epochs")
        if self.data.dataset == "cifar10" and tuple(self.model.input_shape) != (32, 32, 3):
            raise ValueError("model.input_shape: cifar10 images are (32, 32, 3)")
        if self.data.dataset in ("fashion_mnist", "mnist") and tuple(self.model.input_shape) != (28, 28):
            raise ValueError(f"model.input_shape: {self.data.dataset} images are (28, 28)")
        if self.data.dataset == "npz" and not self.data.path:
            raise ValueError("data.path: the npz dataset needs a path to the .npz file")
        return self

    def advisories(self) -> list[str]:
        """Suspicious but legal combinations, shown to the user as warnings."""
        notes: list[str] = []
        acts = {_act_name(getattr(l, "activation", None)) for l in self.model.flat_layers()}
        has_bn = any(
            getattr(l, "type", "") == "batch_norm" or getattr(l, "batch_norm", "none") != "none"
            for l in self.model.layers
        )
        if "selu" in acts:
            if self.data.normalization != "standardize":
                notes.append("SELU self-normalizes only with standardized inputs "
                             "(data.normalization = \"standardize\")")
            if has_bn:
                notes.append("SELU with BatchNormalization: self-normalization makes BN "
                             "unnecessary and BN breaks its guarantees")
            inits = {getattr(l, "kernel_initializer", None) for l in self.model.flat_layers()
                     if _act_name(getattr(l, "activation", None)) == "selu"}
            if inits - {"lecun_normal"}:
                notes.append("SELU expects kernel_initializer = \"lecun_normal\"")
            if any(getattr(l, "type", "") == "dropout" for l in self.model.layers):
                notes.append("regular Dropout breaks SELU self-normalization: use alpha_dropout")
        if any(getattr(l, "type", "") == "alpha_dropout" for l in self.model.layers) and "selu" not in acts:
            notes.append("AlphaDropout is meant for SELU networks; use dropout otherwise")
        if "relu" in acts and any(
            getattr(l, "kernel_initializer", None) in ("glorot_uniform", "glorot_normal")
            and _act_name(getattr(l, "activation", None)) == "relu"
            for l in self.model.flat_layers()
        ) and len(self.model.flat_layers()) > 10:
            notes.append("deep ReLU net with Glorot init: He initialization keeps variance stable")
        if self.train.mixed_precision and self.train.distribute == "default":
            pass
        return notes


def _act_name(act: Any) -> str | None:
    if act is None or isinstance(act, str):
        return act
    return act.name


# --------------------------------------------------------------------------- loading


class PresetError(Exception):
    """A preset that cannot be used: ``str()`` is one line naming file, field and reason."""

    def __init__(self, source: str, field: str | None, reason: str):
        self.source, self.field, self.reason = source, field, reason
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {reason}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a TOML-parsed value (bare words: strings)."""
    if "=" not in text:
        raise PresetError("--set", text, "expected KEY=VALUE, e.g. optimizer.learning_rate=0.01")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise PresetError("--set", key, "empty part in the key path")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """A deep copy of ``data`` with each ``key.path=value`` override set in it."""
    data = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                try:
                    node = node[int(part)]
                    continue
                except (ValueError, IndexError):
                    raise PresetError("--set", ".".join(path[: i + 1]), "no such list index")
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, (dict, list)):
                raise PresetError("--set", ".".join(path[: i + 1]), "is a value, not a section")
            node = nxt
        last = path[-1]
        if isinstance(node, list):
            try:
                node[int(last)] = value
            except (ValueError, IndexError):
                raise PresetError("--set", ".".join(path), "no such list index")
        else:
            node[last] = value
    return data


_TAGGED_PARENTS = {"optimizer", "schedule"}


def _loc(loc: tuple) -> str:
    """A pydantic error location as the user wrote it: ``model.layers[2].units``.

    Pydantic adds the union member it tried (``dense``, ``sgd``, ``LeakyReLU``,
    ``literal[...]``) to the location; the user never wrote those, so they are dropped.
    """
    parts: list[str] = []
    prev: Any = None
    for p in loc:
        tag = (
            isinstance(p, str)
            and (
                isinstance(prev, int)
                or prev in _TAGGED_PARENTS
                or p[:1].isupper()
                or p.startswith(("literal[", "function-", "tagged-union["))
            )
        )
        if not tag:
            parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
        prev = p
    return "".join(parts)


def _is_union_noise(err: dict) -> bool:
    # In "name or table" unions, the branch that did not match the input's kind only
    # repeats what the user did not mean ("should be a valid dict" for a string).
    kind = err["type"]
    if kind in ("model_type", "model_attributes_type", "dict_type", "is_instance_of"):
        return True
    return kind == "literal_error" and isinstance(err.get("input"), dict)


def validate_preset(data: dict, source: str = "<preset>") -> Preset:
    """Validate a parsed preset; raise :class:`PresetError` naming the first bad field."""
    try:
        return Preset.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        useful = [e for e in errors if not _is_union_noise(e)] or errors
        # A misspelt key also makes the real one "missing": the unknown key explains both.
        useful.sort(key=lambda e: e["type"] != "extra_forbidden")
        field, msg = _describe(useful[0])
        if len(useful) > 1:
            msg += f" (and {len(useful) - 1} more)"
        raise PresetError(source, field or None, msg) from None


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$")


def _describe(err: dict) -> tuple[str, str]:
    """The field path and the reason of one pydantic error, in the user's words."""
    field = _loc(err["loc"])
    kind, given, msg = err["type"], err.get("input"), err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return field, "unknown key"
    if kind == "value_error":
        # Cross-field checks say which field they blame as "sub.field: reason".
        m = _FIELD_PREFIX.match(msg)
        if m:
            field, msg = ".".join(p for p in (field, m.group(1)) if p), m.group(2)
        return field, msg
    if kind == "union_tag_invalid":
        key = err["ctx"]["discriminator"].strip("'")
        return f"{field}.{key}", (f"unknown {key} {err['ctx']['tag']!r} "
                                  f"(expected one of {err['ctx']['expected_tags']})")
    if kind == "union_tag_not_found":
        key = err["ctx"]["discriminator"].strip("'")
        return f"{field}.{key}", f"missing: every {field.rsplit('.', 1)[-1]} needs a {key}"
    if kind == "layer_type":
        got = given.get("type") if isinstance(given, dict) else given
        return f"{field}.type", f"{msg} (got {got!r})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return field, f"should be a table, not a value (got {given!r})"
    if kind != "missing" and not isinstance(given, (dict, list)):
        msg = f"{msg} (got {given!r})"
    return field, msg


def read_toml(path: Path) -> dict:
    """Parse a TOML file, turning I/O and syntax errors into :class:`PresetError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError(str(path), None, "no such file") from None
    except IsADirectoryError:
        raise PresetError(str(path), None, "is a directory, not a preset file") from None
    except UnicodeDecodeError as exc:
        raise PresetError(str(path), None, f"cannot read: not UTF-8 text "
                          f"(byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except OSError as exc:
        raise PresetError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(str(path), None, f"TOML syntax error: {exc}") from None


def load_preset(path: str | Path, overrides: list[str] | None = None) -> Preset:
    """Load, override and validate one preset file."""
    path = Path(path)
    data = read_toml(path)
    if not overrides:
        return validate_preset(data, str(path))
    data = apply_overrides(data, overrides)
    try:
        return validate_preset(data, str(path))
    except PresetError as exc:
        # Point at the command line when the offending value came from it.
        keys = {_field_path(parse_override(o)[0]) for o in overrides}
        if exc.field and any(exc.field == k or exc.field.startswith(k + ".") for k in keys):
            raise PresetError(exc.source, exc.field, f"{exc.reason} (from --set)") from None
        raise


def _field_path(parts: list[str]) -> str:
    """``["model", "layers", "0", "units"]`` as errors write it: ``model.layers[0].units``."""
    return "".join(f"[{p}]" if p.isdigit() else ("." if i else "") + p
                   for i, p in enumerate(parts))


def preset_to_toml_dict(preset: Preset) -> dict:
    """The preset as plain data (defaults included, None dropped), for saving as TOML/JSON."""
    return _drop_none(preset.model_dump(mode="json"))


def _drop_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def json_schema() -> dict:
    """JSON schema of a preset file, for editors (committed as presets/preset.schema.json)."""
    return Preset.model_json_schema(mode="validation")
