"""The preset itself: data, training loop, statistics, evaluation, and cross-field checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from tuitrain.preset.model import ModelConfig
from tuitrain.preset.optim import Clipping, Constant, Optimizer, Schedule
from tuitrain.preset.vocab import StrictModel


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
    """mixed_bfloat16 on GPUs: bfloat16 compute, float32 weights (ignored with a notice on CPU)."""
    pause_on_nonfinite: bool = True
    """Pause (headless: stop) when the loss or a gradient is not finite."""


class StatsConfig(StrictModel):
    """Per-layer gradient statistics."""

    every: int = Field(10, ge=1)
    """Compute per-layer statistics every N steps (1: every step)."""
    activations: bool = True
    """Also record each layer's activation mean and std (Sequential models)."""
    full_every: int = Field(10, ge=1)
    """The costlier figures (largest |g|, weight norm, update/weight ratio, activation mean
    and std) at most every N steps, on a statistics step; the gradient norm, mean, std,
    zeros and non-finite count on every statistics step. 1: all of them on every one."""


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
        return notes


def _act_name(act: Any) -> str | None:
    if act is None or isinstance(act, str):
        return act
    return act.name
