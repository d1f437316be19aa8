"""Presets: the pydantic models that describe one training run, and how to load them.

A preset is a TOML file validated by :class:`Preset`. Loading goes through
:func:`load_preset`, which applies ``--set key=value`` overrides before validation, so an
override is checked exactly like the file. The models live in ``vocab`` (activations,
initializers...), ``model`` (layers), ``optim`` (optimizers, schedules, clipping) and
``run`` (the preset and its data/train sections); ``loading`` reads and validates files.
"""

from tuitrain.preset.loading import (
    PresetError, apply_overrides, field_errors, json_schema, load_preset,
    parse_override, preset_to_toml_dict, read_toml, validate_preset,
)
from tuitrain.preset.model import (
    ActivationLayer, BatchNorm, Dense, Dropout, Flatten, Layer, ModelConfig, Output, Transfer,
)
from tuitrain.preset.optim import (
    SGD, Adagrad, Adam, AdamW, Beta, Clipping, Constant, Cosine, Exponential, LearningRate,
    LRFinder, OneCycle, Optimizer, Performance, Piecewise, Power, RMSprop, Schedule,
)
from tuitrain.preset.run import (
    DataConfig, EarlyStopping, Evaluation, Preset, StatsConfig, TrainConfig,
)
from tuitrain.preset.vocab import (
    Activation, ActivationName, Initializer, InitializerName, LeakyReLU, MaxNorm,
    Regularizer, StrictModel, VarianceScaling,
)

__all__ = [
    "Activation",
    "ActivationLayer",
    "ActivationName",
    "Adagrad",
    "Adam",
    "AdamW",
    "BatchNorm",
    "Beta",
    "Clipping",
    "Constant",
    "Cosine",
    "DataConfig",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Evaluation",
    "Exponential",
    "Flatten",
    "Initializer",
    "InitializerName",
    "LRFinder",
    "Layer",
    "LeakyReLU",
    "LearningRate",
    "MaxNorm",
    "ModelConfig",
    "OneCycle",
    "Optimizer",
    "Output",
    "Performance",
    "Piecewise",
    "Power",
    "Preset",
    "PresetError",
    "RMSprop",
    "Regularizer",
    "SGD",
    "Schedule",
    "StatsConfig",
    "StrictModel",
    "TrainConfig",
    "Transfer",
    "VarianceScaling",
    "apply_overrides",
    "field_errors",
    "json_schema",
    "load_preset",
    "parse_override",
    "preset_to_toml_dict",
    "read_toml",
    "validate_preset",
]
