"""Preset -> Keras model and optimizer, transfer learning and MC dropout.

:func:`build_model` returns an uncompiled, built model (a ``keras.Sequential`` or the
engine's subclass of it) whose layers are named input to output; :func:`build_optimizer`
makes the preset's optimizer with a plain-float learning rate that the engine assigns
every step. Transfer learning (chapter 11, R07) reuses all but the last layer of a saved
model, frozen at build time; :func:`set_reused_trainable` unfreezes them for phase two.
:func:`mc_dropout_predict` averages stochastic passes (R27mc).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tuitrain import preset as P
from tuitrain.engine.layers import hidden_layers, output_layer

MODEL_FILE = "model.keras"
PRESET_FILE = "preset.toml"
_REUSED_ATTR = "tuitrain_reused_layers"


class BuildError(Exception):
    """A model that cannot be built; ``str()`` is one line saying what to do."""


# --------------------------------------------------------------------------- model


def build_model(
    preset: P.Preset,
    *,
    model_cls: type = keras.Sequential,
    logs_dir: str | Path = "logs",
    source_model: keras.Model | None = None,
) -> keras.Model:
    """The preset's network as an uncompiled, built ``model_cls`` instance.

    With ``preset.model.transfer`` set, the hidden layers come from the source model
    (``source_model`` if given, else the file :func:`resolve_transfer_source` finds) and
    are frozen; the output layer is new.
    """
    keras.utils.set_random_seed(preset.train.seed)
    cfg = preset.model
    if cfg.transfer is not None:
        if source_model is None:
            source_model = load_source(resolve_transfer_source(cfg.transfer, logs_dir), model_cls)
        else:
            # Like the chapter's clone_model + set_weights: training B must not change A.
            source_model = _clone(source_model)
        reused = _reusable_layers(source_model, cfg.input_shape)
        for layer in reused:
            layer.trainable = False
        names = {layer.name for layer in reused}
        out_name = "output" if "output" not in names else "output_new"
        layers = reused + [output_layer(cfg.output, out_name)]
    else:
        reused = []
        layers = hidden_layers(cfg) + [output_layer(cfg.output)]
    model = model_cls([keras.Input(shape=tuple(cfg.input_shape), name="input")] + layers,
                      name=preset.name.replace(".", "_").replace("-", "_"))
    setattr(model, _REUSED_ATTR, len(reused))
    return model


def load_source(path: Path, model_cls: type = keras.Sequential) -> keras.Model:
    """Load a saved ``.keras`` model (uncompiled); any failure becomes a BuildError."""
    custom = {} if model_cls is keras.Sequential else {model_cls.__name__: model_cls}
    try:
        return keras.models.load_model(path, compile=False, custom_objects=custom)
    except Exception as exc:  # Keras raises many types (ValueError, TypeError, OSError...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BuildError(f"cannot load the transfer source {path}: {first}") from exc


def _clone(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _reusable_layers(source: keras.Model, input_shape: tuple[int, ...]) -> list[keras.layers.Layer]:
    layers = [l for l in source.layers if not isinstance(l, keras.layers.InputLayer)]
    if len(layers) < 2:
        raise BuildError(f"the transfer source {source.name!r} has no hidden layers to reuse")
    try:
        src_shape = tuple(source.input_shape[1:])
    except (AttributeError, ValueError):  # an unbuilt model has no input shape yet
        src_shape = None
    if src_shape is not None and src_shape != tuple(input_shape):
        raise BuildError(
            f"the transfer source takes inputs of shape {src_shape}, the preset "
            f"{tuple(input_shape)}: reuse a model trained on the same kind of data"
        )
    return layers[:-1]


def reused_layer_count(model: keras.Model) -> int:
    """How many leading layers of ``model.layers`` came from a transfer source."""
    return int(getattr(model, _REUSED_ATTR, 0))


def set_reused_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze or unfreeze the reused layers (R07's phase switch).

    Keras only picks the change up in a newly made train function: recompile (the chapter
    does) or otherwise rebuild the training step after calling this.
    """
    for layer in model.layers[: reused_layer_count(model)]:
        layer.trainable = trainable


def resolve_transfer_source(transfer: P.Transfer, logs_dir: str | Path) -> Path:
    """The ``.keras`` file a transfer preset reuses.

    ``transfer.source`` is a ``.keras`` file, a run folder (its ``model.keras``; a bare
    folder name is also looked up in ``logs_dir``), or a preset name: then the newest run
    folder in ``logs_dir`` whose ``preset.toml`` has that name and which saved a model.
    """
    source, logs = transfer.source, Path(logs_dir)
    path = Path(source).expanduser()
    if source.endswith(".keras"):
        if path.is_file():
            return path
        raise BuildError(f"transfer source {source} does not exist: train and save that model first")
    for folder in (path, logs / source):
        explicit = folder is path and ("/" in source or "\\" in source)
        if folder.is_dir() and (explicit or _looks_like_run(folder)):
            if (folder / MODEL_FILE).is_file():
                return folder / MODEL_FILE
            raise BuildError(
                f"run folder {folder} has no {MODEL_FILE} (did the run finish?): "
                f"run `tuitrain run {_preset_name(folder) or 'PRESET'}` to completion first"
            )
    runs = [d for d in _runs_of(source, logs) if (d / MODEL_FILE).is_file()]
    if not runs:
        raise BuildError(
            f"no finished run of preset {source!r} in {logs}: run `tuitrain run {source}` first"
        )
    newest = max(runs, key=lambda d: ((d / MODEL_FILE).stat().st_mtime, d.name))
    return newest / MODEL_FILE


def _looks_like_run(folder: Path) -> bool:
    return (folder / PRESET_FILE).is_file() or (folder / MODEL_FILE).is_file()


def _runs_of(name: str, logs: Path) -> list[Path]:
    if not logs.is_dir():
        return []
    return [d for d in logs.iterdir() if d.is_dir() and _preset_name(d) == name]


def _preset_name(folder: Path) -> str | None:
    try:
        return tomllib.loads((folder / PRESET_FILE).read_text(encoding="utf-8")).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


# --------------------------------------------------------------------------- training pieces

_OPTIMIZERS = {
    "sgd": (keras.optimizers.SGD, ("momentum", "nesterov")),
    "adagrad": (keras.optimizers.Adagrad, ("initial_accumulator_value", "epsilon")),
    "rmsprop": (keras.optimizers.RMSprop, ("rho", "momentum", "epsilon", "centered")),
    "adam": (keras.optimizers.Adam, ("beta_1", "beta_2", "epsilon", "amsgrad")),
    "adamax": (keras.optimizers.Adamax, ("beta_1", "beta_2", "epsilon")),
    "nadam": (keras.optimizers.Nadam, ("beta_1", "beta_2", "epsilon")),
    "adamw": (keras.optimizers.AdamW, ("weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad")),
}


def build_optimizer(opt_cfg: Any, learning_rate: float | None = None) -> keras.optimizers.Optimizer:
    """The preset's optimizer with its hyperparameters; no clipping (the engine clips).

    The learning rate is a plain float (``learning_rate`` if given, else the preset's), so
    Keras keeps it in a variable that the engine can assign every step.
    """
    cls, fields = _OPTIMIZERS[opt_cfg.name]
    lr = float(opt_cfg.learning_rate if learning_rate is None else learning_rate)
    return cls(learning_rate=lr, **{f: getattr(opt_cfg, f) for f in fields})


def _binary(preset: P.Preset) -> bool:
    return preset.model.output.units == 1


def loss_for(preset: P.Preset) -> str | keras.losses.Loss:
    """The loss: sparse categorical cross-entropy, or binary for a 1-unit output.

    A linear output is read as logits, which needs a Loss object with ``from_logits``.
    """
    logits = preset.model.output.activation == "linear"
    if _binary(preset):
        return keras.losses.BinaryCrossentropy(from_logits=True) if logits else "binary_crossentropy"
    if logits:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return "sparse_categorical_crossentropy"


def metrics_for(preset: P.Preset) -> list:
    """The metrics: accuracy (thresholded at logit 0 for a linear 1-unit output)."""
    if _binary(preset) and preset.model.output.activation == "linear":
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
    return ["accuracy"]


# --------------------------------------------------------------------------- MC dropout

_DROPOUT = (keras.layers.Dropout, keras.layers.AlphaDropout)


def mc_dropout_predict(model: keras.Model, x: np.ndarray, samples: int, batch_size: int = 1024) -> np.ndarray:
    """Mean prediction over ``samples`` passes with dropout active (R27mc).

    Only the dropout layers run in training mode: for the chapter's R27 model this is
    exactly ``model(x, training=True)``, and models with BatchNormalization keep using
    their moving statistics instead of per-batch ones (the chapter's MCDropout class).
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    mean_of = _compiled_mean(model)
    n = tf.constant(samples)
    outs = [mean_of(tf.convert_to_tensor(x[start:start + batch_size]), n).numpy()
            for start in range(0, len(x), batch_size)]
    return np.concatenate(outs, axis=0).astype(np.float32)


def _compiled_mean(model: keras.Model):
    # Eager layer calls cost ~30 s for R27mc's 100 x 10,000 images on a CPU; one traced
    # loop (Keras' seed generators still advance on every pass) takes a few seconds.
    def one(xb):
        if isinstance(model, keras.Sequential):
            return _stochastic_pass(model, xb)
        return model(xb, training=True)

    @tf.function(reduce_retracing=True)
    def mean_of(xb, n):
        total = tf.cast(one(xb), tf.float32)
        for _ in tf.range(n - 1):
            total += tf.cast(one(xb), tf.float32)
        return total / tf.cast(n, tf.float32)

    return mean_of


def _stochastic_pass(model: keras.Sequential, x):
    for layer in model.layers:
        x = layer(x, training=isinstance(layer, _DROPOUT))
    return x
