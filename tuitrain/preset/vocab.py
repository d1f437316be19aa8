"""The preset vocabulary: activations, initializers, regularizers, constraints."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
