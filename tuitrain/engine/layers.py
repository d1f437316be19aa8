"""Preset layer entries -> Keras layers with stable, readable names.

:func:`hidden_layers` turns ``preset.model.layers`` (with ``repeat`` expanded) into a flat
list of Keras layers named ``flatten``, ``dense_1``, ``bn_1``, ``act_1``, ``dropout_1``...
numbered input to output, and :func:`output_layer` makes the layer named ``output``.
Parametrised activations (leaky ReLU, ELU with an alpha) become their own layers rather
than lambdas, so a model saves and reloads as a ``.keras`` file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import keras

from tuitrain import preset as P


class Namer:
    """Hands out ``prefix_1``, ``prefix_2``... per prefix, so names follow layer order."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def __call__(self, prefix: str) -> str:
        self._counts[prefix] += 1
        return f"{prefix}_{self._counts[prefix]}"


def initializer(init: Any) -> Any:
    """A Keras initializer (or its name) from a preset initializer."""
    if isinstance(init, P.VarianceScaling):
        return keras.initializers.VarianceScaling(
            scale=init.scale, mode=init.mode, distribution=init.distribution
        )
    return init


def regularizer(reg: P.Regularizer | None) -> keras.regularizers.Regularizer | None:
    """keras.regularizers.L1 / L2 / L1L2 from a preset regularizer."""
    if reg is None:
        return None
    if reg.kind == "l1":
        return keras.regularizers.L1(reg.l1)
    if reg.kind == "l2":
        return keras.regularizers.L2(reg.l2)
    return keras.regularizers.L1L2(l1=reg.l1, l2=reg.l2)


def constraint(c: P.MaxNorm | None) -> keras.constraints.Constraint | None:
    """keras.constraints.MaxNorm from a preset max-norm constraint."""
    if c is None:
        return None
    return keras.constraints.MaxNorm(max_value=c.max_norm, axis=c.axis)


def is_parametric(act: Any) -> bool:
    """True for an activation with an alpha, which needs a layer of its own."""
    return isinstance(act, P.LeakyReLU)


def activation_layer(act: Any, name: str) -> keras.layers.Layer:
    """A stand-alone activation layer: Activation(name), LeakyReLU(alpha) or ELU(alpha)."""
    if isinstance(act, P.LeakyReLU):
        if act.name == "leaky_relu":
            return keras.layers.LeakyReLU(negative_slope=act.alpha, name=name)
        return keras.layers.ELU(alpha=act.alpha, name=name)
    return keras.layers.Activation(act, name=name)


def _dense(cfg: P.Dense | P.Output, activation: Any, name: str, use_bias: bool = True):
    return keras.layers.Dense(
        cfg.units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=initializer(cfg.kernel_initializer),
        kernel_regularizer=regularizer(cfg.kernel_regularizer),
        kernel_constraint=constraint(cfg.kernel_constraint),
        name=name,
    )


def dense_block(cfg: P.Dense, namer: Namer) -> list[keras.layers.Layer]:
    """One (unrepeated) Dense entry: the Dense layer plus its BN and activation layers."""
    act = cfg.activation
    if cfg.batch_norm == "before":
        # BN normalizes the pre-activations, so the Dense is linear and the
        # activation follows as its own layer.
        return [
            _dense(cfg, "linear", namer("dense"), use_bias=cfg.use_bias),
            keras.layers.BatchNormalization(name=namer("bn")),
            activation_layer(act, namer("act")),
        ]
    out: list[keras.layers.Layer]
    if is_parametric(act):
        out = [_dense(cfg, "linear", namer("dense"), cfg.use_bias), activation_layer(act, namer("act"))]
    else:
        out = [_dense(cfg, act, namer("dense"), cfg.use_bias)]
    if cfg.batch_norm == "after":
        out.append(keras.layers.BatchNormalization(name=namer("bn")))
    return out


def hidden_layers(model_cfg: P.ModelConfig, namer: Namer | None = None) -> list[keras.layers.Layer]:
    """The hidden stack, Flatten first (added when the preset omits it)."""
    namer = namer or Namer()
    entries = model_cfg.flat_layers()
    layers: list[keras.layers.Layer] = []
    if not entries or not isinstance(entries[0], P.Flatten):
        layers.append(keras.layers.Flatten(name="flatten"))
    for entry in entries:
        if isinstance(entry, P.Dense):
            layers.extend(dense_block(entry, namer))
        elif isinstance(entry, P.BatchNorm):
            layers.append(keras.layers.BatchNormalization(
                momentum=entry.momentum, epsilon=entry.epsilon, name=namer("bn")))
        elif isinstance(entry, P.Dropout):
            cls = keras.layers.AlphaDropout if entry.type == "alpha_dropout" else keras.layers.Dropout
            layers.append(cls(entry.rate, name=namer("dropout")))
        elif isinstance(entry, P.ActivationLayer):
            layers.append(activation_layer(entry.activation, namer("act")))
        elif isinstance(entry, P.Flatten):
            # The first Flatten keeps the plain name; later ones (unusual) are numbered.
            name = "flatten" if not layers else namer("flatten")
            layers.append(keras.layers.Flatten(name=name))
        else:  # pragma: no cover - the preset schema admits no other layer types
            raise TypeError(f"unknown layer entry {entry!r}")
    return layers


def output_layer(out_cfg: P.Output, name: str = "output") -> keras.layers.Dense:
    """The output Dense layer."""
    return _dense(out_cfg, out_cfg.activation, name)
