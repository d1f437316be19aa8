"""Preset sections of the network: layers, output layer, transfer learning."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from tuitrain.preset.vocab import Activation, Initializer, MaxNorm, Regularizer, StrictModel


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
