"""Which devices a run uses: the distribution strategy, mixed precision, a readable name."""

from __future__ import annotations

import keras
import tensorflow as tf

from tuitrain.preset import TrainConfig


def describe_devices() -> str:
    """"CPU" or "GPU: <name> x N" for the start event and the dashboard header."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:  # details are cosmetic; never fail a run over them
            names.append(gpu.name)
    first = names[0]
    return f"GPU: {first}" + (f" x {len(names)}" if len(names) > 1 else "")


def choose_strategy(cfg: TrainConfig) -> tuple[tf.distribute.Strategy, str]:
    """The strategy the preset asks for (auto: mirrored when several GPUs are visible)."""
    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    mirrored = cfg.distribute == "mirrored" or (cfg.distribute == "auto" and len(gpus) > 1)
    if not mirrored:
        return tf.distribute.get_strategy(), "default"
    if gpus:
        strategy = tf.distribute.MirroredStrategy()
    else:
        # Several logical CPUs (tests configure two) stand in for several GPUs.
        strategy = tf.distribute.MirroredStrategy([d.name for d in cpus])
    return strategy, f"MirroredStrategy({strategy.num_replicas_in_sync})"


def apply_precision(cfg: TrainConfig) -> str | None:
    """Set the Keras dtype policy; returns a notice when the preset's wish was ignored.

    bfloat16 needs no loss scaling, so the instrumented train step's gradients are the
    real ones; float16 would need a LossScaleOptimizer and scaled statistics.
    """
    if not cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
        return None
    if not tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("float32")
        return "mixed precision ignored: no GPU (training in float32)"
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    return None
