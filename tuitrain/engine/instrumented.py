"""The Sequential model whose train step clips live and measures every layer's gradients.

Keras callbacks never see gradients, so the measuring happens in ``train_step``. Instead
of branching inside one graph (``tf.cond`` still pays for much of the untaken branch), the
model compiles one train function per *variant*: (statistics on/off, clipping mode). The
engine picks the variant before each step by setting ``model.train_function``; Keras'
``fit`` looks that attribute up on every step. Each variant is traced once and reused.

A variant's train function is leaner than Keras' own: with one step per execution Keras
wraps every step in an outer ``tf.function`` over an ``Optional`` (0.3-0.4 ms of Python per
step on a CPU, a quarter of a small model's step). Here the traced function reads the batch
itself and is called through its concrete function for the iterator's type; the end of
the data raises ``OutOfRangeError``, which Keras' epoch iterator already turns into the end
of the epoch. Anything else (several steps per execution, a plain Python iterator) gets
Keras' own function.

A statistics variant returns two small tensors, ``tt_vstats`` (sums per variable) and
``tt_acts`` (per layer output); :meth:`InstrumentedSequential.stats_table` turns them into
the per-layer table on the host (see :mod:`tuitrain.engine.gradstats`).

The clipping threshold lives in a variable, so changing it never retraces; changing the
clipping mode selects another compiled variant.
"""

from __future__ import annotations

import contextlib
import functools

import keras
import numpy as np
import tensorflow as tf
# Private Keras modules, used exactly as Keras' own TensorFlow train_step uses them.
from keras.src.backend.tensorflow.trainer import reduce_per_replica
from keras.src.losses import loss as loss_module
from keras.src.trainers.data_adapters import data_adapter_utils

from tuitrain.engine.gradstats import StatsPlan
from tuitrain.engine.increments import IncrementRecorder, increments_apply

CLIP_MODES = ("off", "value", "norm", "global_norm")
# Statistics levels of a step: none, the core figures, every figure (see select()).
LEAN, CORE, FULL = 0, 1, 2


@keras.saving.register_keras_serializable(package="tuitrain")
class InstrumentedSequential(keras.Sequential):
    """A ``keras.Sequential`` with live clipping and per-layer statistics.

    After ``compile``, call :meth:`select` before each step (the engine's callback does)
    to choose whether that step measures statistics and how it clips.
    """

    # Where a statistics step takes the update from: "auto", the optimizer's own increments
    # where they are the whole update (tuitrain.engine.increments), else a snapshot of the
    # weights; "snapshot" always (benchmarks and tests compare the two).
    update_source = "auto"

    def _tt_init(self) -> None:
        if getattr(self, "_tt_ready", False):
            return
        self._tt_ready = True
        # Variants by (statistics level: LEAN, CORE or FULL; clipping mode).
        self._tt_fns: dict[tuple[int, str], object] = {}
        self._tt_plans: dict[tuple[int, str], StatsPlan] = {}
        self._tt_key: tuple[int, str] = (LEAN, "off")
        self.stats_mode: str | None = None   # None: gradstats.default_mode()
        self._tt_clip_mode = "off"
        self._tt_threshold = tf.Variable(1.0, dtype=tf.float32, trainable=False,
                                         name="tt_clip_threshold")
        self.measure_activations = True

    # -- layer bookkeeping -------------------------------------------------------------
    def stat_layers(self) -> list[keras.layers.Layer]:
        """Layers with weights, input side first: the rows of the statistics tensor."""
        return [layer for layer in self.layers if layer.weights]

    def stat_layer_names(self) -> list[str]:
        return [layer.name for layer in self.stat_layers()]

    def frozen_mask(self) -> list[bool]:
        """Per stat layer: True when it has no trainable weights at the moment."""
        return [not layer.trainable_weights for layer in self.stat_layers()]

    # -- variant selection ------------------------------------------------------------
    def reset_variants(self) -> None:
        """Forget compiled variants (after compile or a trainable change)."""
        self._tt_init()
        self._tt_fns = {}
        self._tt_plans = {}

    def set_clipping(self, mode: str, threshold: float) -> None:
        self._tt_init()
        if mode not in CLIP_MODES:
            raise ValueError(f"clipping mode must be one of {CLIP_MODES}")
        self._tt_clip_mode = mode
        self._tt_threshold.assign(float(threshold))

    def select(self, stats: bool, full: bool = True) -> None:
        """Make the next ``train_function`` call the (statistics, clip mode) variant.

        ``full=False``: a statistics step that takes only the core figures
        (``events.CORE_COLUMNS``), without activations.
        """
        self._tt_init()
        key = (LEAN if not stats else FULL if full else CORE, self._tt_clip_mode)
        self._tt_key = key
        fn = self._tt_fns.get(key)
        if fn is None:
            plan = None
            if key[0]:
                plan = StatsPlan(self.stat_layers(), self.trainable_weights, self.stats_mode,
                                 full=key[0] == FULL)
                self._tt_plans[key] = plan
            step = functools.partial(self._tt_train_step, key[0], key[1], plan)
            fn = self._lean_function(step)
            self._tt_fns[key] = fn
        self.train_function = fn

    def stats_table(self, logs) -> np.ndarray | None:
        """The per-layer statistics of the step that returned ``logs`` (None if it had none).

        Call before the next :meth:`select`: the table is read with that step's variant.
        """
        if "tt_vstats" not in logs:
            return None
        return self.stats_plan().table(logs["tt_vstats"], logs.get("tt_acts"))

    def stats_plan(self) -> StatsPlan | None:
        """The :class:`StatsPlan` of the selected variant (None for a lean step)."""
        return self._tt_plans.get(self._tt_key)

    def _lean_function(self, step_function):
        """A train function for ``step_function``: one step per call, see the module doc."""
        if self.steps_per_execution != 1 or self.run_eagerly:
            return self._make_function(step_function)
        strategy = self.distribute_strategy

        @tf.autograph.experimental.do_not_convert
        def one_step_on_data(data):
            outputs = strategy.run(step_function, args=(data,))
            return reduce_per_replica(outputs, strategy, reduction="auto")

        on_data = self._autoconvert_optionals(one_step_on_data)

        @tf.autograph.experimental.do_not_convert
        def on_iterator(iterator):
            return on_data(iterator.get_next())

        traced = tf.function(on_iterator, reduce_retracing=True, jit_compile=self.jit_compile)
        concrete: dict = {}
        fallback = self._make_function(step_function)

        def function(iterator):
            if not isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
                return fallback(iterator)
            try:
                spec = iterator._type_spec
                fn = concrete.get(spec)
                if fn is None:
                    fn = concrete[spec] = traced.get_concrete_function(iterator)
            except (AttributeError, TypeError):   # no hashable spec: the polymorphic function
                return traced(iterator)
            return fn(iterator)

        return function

    def compile(self, *args, **kwargs):  # noqa: D102 - Keras' signature
        super().compile(*args, **kwargs)
        self.reset_variants()

    # -- the step ----------------------------------------------------------------------
    def train_step(self, data):
        # Used when fit() runs before select(): the lean, unclipped variant.
        self._tt_init()
        return self._tt_train_step(LEAN, self._tt_clip_mode, None, data)

    def _forward(self, x, with_acts: bool):
        if not with_acts:
            return self(x, training=True), None
        acts = {}
        h = x
        for layer in self.layers:
            h = layer(h, training=True)
            acts[id(layer)] = h
        return h, acts

    def _tt_train_step(self, level: int, clip_mode: str, plan: StatsPlan | None, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        stats = level != LEAN
        with_acts = level == FULL and self.measure_activations
        with tf.GradientTape() as tape:
            y_pred, acts = self._forward(x, with_acts)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=True)
            self._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss),
                sample_weight=tf.shape(x)[0],
            )
            loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        grads = tape.gradient(loss, weights)
        extra = {}
        if clip_mode != "off":
            gnorm = tf.linalg.global_norm(grads)
            extra["tt_gnorm"] = gnorm
        t = self._tt_threshold
        if clip_mode == "value":
            extra["tt_clipped"] = tf.cast(
                tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(g)) for g in grads])) > t, tf.float32)
            grads = [tf.clip_by_value(g, -t, t) for g in grads]
        elif clip_mode == "norm":
            norms = tf.stack([tf.norm(g) for g in grads])
            extra["tt_clipped"] = tf.cast(tf.reduce_max(norms) > t, tf.float32)
            grads = [tf.clip_by_norm(g, t) for g in grads]
        elif clip_mode == "global_norm":
            extra["tt_clipped"] = tf.cast(gnorm > t, tf.float32)
            grads, _ = tf.clip_by_global_norm(grads, t, use_norm=gnorm)
        if stats:
            recorder = before = None   # a core step takes no update norm
            if level == FULL:
                if self.update_source == "auto" and increments_apply(
                        self.optimizer, weights, self.distribute_strategy):
                    recorder = IncrementRecorder(self.optimizer, weights)
                else:
                    before = plan.snapshot(weights)
            with recorder or contextlib.nullcontext():
                self.optimizer.apply(grads, weights)
            if level == FULL:
                plan.update_from = "increments" if recorder else "snapshot"
            acts_by_row = {} if acts is None else {
                r: acts[id(layer)] for r, layer in enumerate(self.stat_layers())
                if id(layer) in acts}
            vstats = plan.var_sums(grads, weights, before, recorder)
            extra["tt_vstats"] = vstats
            extra["tt_acts"] = plan.act_sums(acts_by_row)
            if clip_mode == "off":  # pre-clip norm = applied norm: from the per-variable norms
                extra["tt_gnorm"] = tf.math.reduce_euclidean_norm(vstats[:, 0])
        else:
            self.optimizer.apply(grads, weights)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        logs.update(extra)
        return logs


def first_nonfinite_layer(model: InstrumentedSequential) -> str | None:
    """Name of the first layer (input side) whose weights hold NaN or inf, if any."""
    for layer in model.stat_layers():
        for w in layer.weights:
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(w))):
                return layer.name
    return None
