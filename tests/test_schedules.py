"""Learning-rate schedules against Keras' own schedules, callbacks and chapter 11's formulas."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from tuitrain.engine.schedules import LRSchedule, make_schedule
from tuitrain.preset import (
    Constant, Cosine, Exponential, LRFinder, OneCycle, Performance, Piecewise, Power,
)

RTOL = 1e-6
# Keras' TF backend trips numpy 2's __array__ copy-keyword deprecation on every conversion.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def sched(cfg, base_lr=0.01, total_steps=1000, **kw) -> LRSchedule:
    return make_schedule(cfg, base_lr=base_lr, steps_per_epoch=100, total_steps=total_steps, **kw)


def ours(s: LRSchedule, steps, epoch=0) -> np.ndarray:
    return np.array([s.lr_at(int(t), epoch) for t in steps])


STEPS = np.concatenate([np.arange(0, 300), np.arange(300, 60_000, 997), [20_000, 40_000, 50_000]])


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_matches_keras(staircase):
    s = sched(Exponential(kind="exponential", decay_steps=2_000, decay_rate=0.1, staircase=staircase))
    k = keras.optimizers.schedules.ExponentialDecay(0.01, 2_000, 0.1, staircase=staircase)
    steps = np.arange(0, 6_000, 7)
    np.testing.assert_allclose(ours(s, steps), keras.ops.convert_to_numpy(k(steps)), rtol=RTOL)


def test_chapter_exponential_r18():
    s = sched(Exponential(kind="exponential", decay_steps=20_000, decay_rate=0.1))
    k = keras.optimizers.schedules.ExponentialDecay(0.01, 20_000, 0.1)
    np.testing.assert_allclose(ours(s, STEPS), keras.ops.convert_to_numpy(k(STEPS)), rtol=RTOL)


@pytest.mark.parametrize("staircase", [False, True])
def test_power_matches_inverse_time_decay(staircase):
    s = sched(Power(kind="power", decay_steps=10_000, decay_rate=1.0, staircase=staircase))
    k = keras.optimizers.schedules.InverseTimeDecay(0.01, 10_000, 1.0, staircase=staircase)
    np.testing.assert_allclose(ours(s, STEPS), keras.ops.convert_to_numpy(k(STEPS)), rtol=RTOL)


def test_piecewise_matches_keras_inclusive_boundaries():
    cfg = Piecewise(kind="piecewise", boundaries=[50_000, 80_000], values=[0.01, 0.005, 0.001])
    s = sched(cfg)
    k = keras.optimizers.schedules.PiecewiseConstantDecay([50_000, 80_000], [0.01, 0.005, 0.001])
    steps = np.array([0, 1, 49_999, 50_000, 50_001, 79_999, 80_000, 80_001, 100_000])
    np.testing.assert_allclose(ours(s, steps), keras.ops.convert_to_numpy(k(steps)), rtol=RTOL)
    assert s.lr_at(50_000, 0) == 0.01 and s.lr_at(50_001, 0) == 0.005


def test_cosine_matches_keras_without_warmup():
    s = sched(Cosine(kind="cosine", decay_steps=1_000, alpha=0.1))
    k = keras.optimizers.schedules.CosineDecay(0.01, 1_000, alpha=0.1)
    steps = np.arange(0, 1_300, 3)
    np.testing.assert_allclose(ours(s, steps), keras.ops.convert_to_numpy(k(steps)), rtol=RTOL, atol=1e-9)


def test_cosine_matches_keras_with_warmup():
    s = sched(Cosine(kind="cosine", decay_steps=300, alpha=0.0, warmup_steps=50, warmup_target=0.1))
    k = keras.optimizers.schedules.CosineDecay(0.01, 300, alpha=0.0, warmup_target=0.1, warmup_steps=50)
    steps = list(range(0, 60)) + list(range(60, 400, 9))
    expected = [float(k(t)) for t in steps]
    # Near the end of a zero-alpha decay Keras' float32 cancellation in 1 + cos(x) dominates:
    # atol is about one float32 ulp of the peak lr.
    np.testing.assert_allclose(ours(s, steps), expected, rtol=RTOL, atol=1e-8)
    assert s.lr_at(50, 0) == pytest.approx(0.1)


def test_cosine_warmup_steps_without_target_is_ignored_like_keras():
    s = sched(Cosine(kind="cosine", decay_steps=200, warmup_steps=50))
    k = keras.optimizers.schedules.CosineDecay(0.01, 200, warmup_steps=50)
    steps = np.arange(0, 260, 5)
    np.testing.assert_allclose(ours(s, steps), keras.ops.convert_to_numpy(k(steps)), rtol=RTOL, atol=1e-9)


def test_per_epoch_variants_use_only_the_epoch():
    r19 = sched(Exponential(kind="exponential", decay_steps=20, decay_rate=0.1, per="epoch"))
    r22 = sched(Piecewise(kind="piecewise", boundaries=[5, 15], values=[0.01, 0.005, 0.001], per="epoch"),
                base_lr=0.123)
    power = sched(Power(kind="power", decay_steps=10, per="epoch"))

    def piecewise_constant_fn(epoch):  # the chapter's R22 function
        if epoch < 5:
            return 0.01
        elif epoch < 15:
            return 0.005
        return 0.001

    for epoch in range(30):
        for step in (0, 17, 123_456):
            assert r19.lr_at(step, epoch) == pytest.approx(0.01 * 0.1 ** (epoch / 20), rel=RTOL)
            assert r22.lr_at(step, epoch) == piecewise_constant_fn(epoch)
            assert power.lr_at(step, epoch) == pytest.approx(0.01 / (1 + epoch / 10), rel=RTOL)
    assert r19.per == r22.per == power.per == "epoch"


class NotebookOneCycle(keras.callbacks.Callback):
    """Chapter 11's OneCycleScheduler (handson-ml3 notebook 11), verbatim logic."""

    def __init__(self, iterations, max_lr=1e-3, start_lr=None, last_iterations=None, last_lr=None):
        super().__init__()
        self.iterations = iterations
        self.max_lr = max_lr
        self.start_lr = start_lr or max_lr / 10
        self.last_iterations = last_iterations or iterations // 10 + 1
        self.half_iteration = (iterations - self.last_iterations) // 2
        self.last_lr = last_lr or self.start_lr / 1000
        self.iteration = 0

    def _interpolate(self, iter1, iter2, lr1, lr2):
        return (lr2 - lr1) * (self.iteration - iter1) / (iter2 - iter1) + lr1

    def on_batch_begin(self, batch, logs=None):
        if self.iteration < self.half_iteration:
            lr = self._interpolate(0, self.half_iteration, self.start_lr, self.max_lr)
        elif self.iteration < 2 * self.half_iteration:
            lr = self._interpolate(self.half_iteration, 2 * self.half_iteration,
                                   self.max_lr, self.start_lr)
        else:
            lr = self._interpolate(2 * self.half_iteration, self.iterations,
                                   self.start_lr, self.last_lr)
        self.iteration += 1
        self.model.optimizer.learning_rate = lr


def tiny_model(lr=0.01, metrics=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=metrics or [])
    return model


@pytest.mark.parametrize("iterations,kwargs", [
    (431, {"max_lr": 0.1}),
    (97, {"max_lr": 0.05, "start_lr": 0.001, "last_iterations": 20, "last_lr": 1e-5}),
])
def test_one_cycle_matches_the_chapter_callback(iterations, kwargs):
    model = tiny_model()
    cb = NotebookOneCycle(iterations, **kwargs)
    cb.set_model(model)
    s = sched(OneCycle(kind="one_cycle", **kwargs), total_steps=iterations)
    for step in range(iterations):
        cb.on_batch_begin(step)
        expected = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        assert s.lr_at(step, step // 50) == pytest.approx(expected, rel=RTOL)
    max_lr = kwargs["max_lr"]
    assert s.lr_at(0, 0) == pytest.approx(kwargs.get("start_lr", max_lr / 10))
    assert s.lr_at(cb.half_iteration, 0) == pytest.approx(max_lr)
    assert s.lr_at(10 * iterations, 0) == pytest.approx(cb.last_lr)  # held after the end


def test_lr_finder_grows_exponentially_from_min_to_max():
    s = sched(LRFinder(kind="lr_finder", min_lr=1e-4, max_lr=1.0), total_steps=430)
    lrs = ours(s, range(430))
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (1e4) ** (1 / 429), rtol=RTOL)


SEQUENCES = {
    "plateaus": [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.8, 0.7, 0.7, 0.7, 0.7],
    "noisy": [1.0, 1.1, 0.95, 1.2, 0.95, 0.96, 0.94, 0.9401, 0.95, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "flat": [0.5] * 30,
}


@pytest.mark.parametrize("seq", sorted(SEQUENCES))
@pytest.mark.parametrize("params", [
    {"factor": 0.5, "patience": 2},
    {"factor": 0.5, "patience": 1, "cooldown": 2},
    {"factor": 0.3, "patience": 0, "min_lr": 0.002},
    {"factor": 0.1, "patience": 3, "min_delta": 0.05, "cooldown": 1, "min_lr": 1e-4},
])
def test_performance_matches_reduce_lr_on_plateau(seq, params):
    model = tiny_model(lr=0.01)
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **params)
    cb.set_model(model)
    cb.on_train_begin()
    s = sched(Performance(kind="performance", monitor="val_loss", **params))
    reductions = 0
    for epoch, value in enumerate(SEQUENCES[seq]):
        cb.on_epoch_end(epoch, {"val_loss": value, "loss": 9.0})
        msg = s.on_epoch_end(epoch, {"val_loss": value, "loss": 9.0})
        expected = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        assert s.lr_at(epoch * 100, epoch + 1) == pytest.approx(expected, rel=RTOL), epoch
        reductions += msg is not None
        if msg:
            assert msg.startswith("val_loss plateau: lr ")
    if seq == "flat":
        assert reductions > 0


def test_performance_maximizes_accuracy_like_keras_auto_mode():
    model = tiny_model(lr=0.02, metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.zeros(16, dtype=int)
    model.evaluate(x, y, verbose=0)  # builds the metrics Keras' auto mode inspects
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    cb.set_model(model)
    s = sched(Performance(kind="performance", monitor="val_accuracy", factor=0.5, patience=1),
              base_lr=0.02)
    for epoch, acc in enumerate([0.5, 0.6, 0.7, 0.65, 0.66, 0.8, 0.79, 0.79, 0.81, 0.2]):
        cb.on_epoch_end(epoch, {"val_accuracy": acc})
        s.on_epoch_end(epoch, {"val_accuracy": acc})
        assert s.lr_at(0, epoch) == pytest.approx(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)), rel=RTOL)
    assert s.lr_at(0, 0) < 0.02
    assert s.on_epoch_end(99, {"val_loss": 1.0}) is None  # metric missing: no change


ALL_CFGS = [
    Constant(kind="constant"),
    Exponential(kind="exponential", decay_steps=200, decay_rate=0.1),
    Exponential(kind="exponential", decay_steps=5, decay_rate=0.1, per="epoch"),
    Power(kind="power", decay_steps=100),
    Piecewise(kind="piecewise", boundaries=[100, 300], values=[0.01, 0.005, 0.001]),
    OneCycle(kind="one_cycle", max_lr=0.1),
    Cosine(kind="cosine", decay_steps=800, alpha=0.05),
    LRFinder(kind="lr_finder"),
    Performance(kind="performance"),
]


@pytest.mark.parametrize("cfg", ALL_CFGS, ids=lambda c: f"{c.kind}-{getattr(c, 'per', '')}")
def test_rebased_continues_from_the_given_lr_and_keeps_the_shape(cfg):
    s = sched(cfg)
    step, epoch = 150, 1
    r = s.rebased(step, epoch, 0.0042)
    assert r.lr_at(step, epoch) == pytest.approx(0.0042, rel=RTOL)
    ratio = 0.0042 / s.lr_at(step, epoch)
    for t in (151, 170, 400, 900):
        e = t // 100
        assert r.lr_at(t, e) == pytest.approx(s.lr_at(t, e) * ratio, rel=RTOL)
    assert s.lr_at(step, epoch) != pytest.approx(0.0042)  # the original is untouched
    twice = r.rebased(400, 4, 0.0007)  # a second nudge composes with the first
    assert twice.lr_at(400, 4) == pytest.approx(0.0007, rel=RTOL)
    assert twice.lr_at(900, 9) == pytest.approx(s.lr_at(900, 9) * 0.0007 / s.lr_at(400, 4), rel=RTOL)
    assert r.describe().split(":")[0] == s.describe().split(":")[0]


@pytest.mark.parametrize("cfg", ALL_CFGS, ids=lambda c: f"{c.kind}-{getattr(c, 'per', '')}")
def test_swapped_in_mid_run_with_keep_lr_starts_without_a_jump(cfg):
    origin_step, origin_epoch = 5_000, 12
    fresh = sched(cfg, total_steps=1000)
    swapped = sched(cfg, total_steps=1000, origin_step=origin_step, origin_epoch=origin_epoch,
                    keep_lr=0.0031)
    assert swapped.lr_at(origin_step, origin_epoch) == pytest.approx(0.0031, rel=RTOL)
    ratio = 0.0031 / fresh.lr_at(0, 0)
    for t in (1, 50, 250, 999):
        e = t // 100
        got = swapped.lr_at(origin_step + t, origin_epoch + e)
        assert got == pytest.approx(fresh.lr_at(t, e) * ratio, rel=RTOL)
        assert isinstance(got, float)


def test_origin_without_keep_lr_restarts_the_schedule():
    cfg = Exponential(kind="exponential", decay_steps=1000, decay_rate=0.1)
    s = sched(cfg, origin_step=3000)
    assert s.lr_at(3000, 0) == pytest.approx(0.01)
    assert s.lr_at(4000, 0) == pytest.approx(0.001)
    assert s.lr_at(0, 0) == pytest.approx(0.01)  # never extrapolates before its origin


def test_make_schedule_accepts_the_control_dict_form():
    s = sched({"kind": "piecewise", "boundaries": [10], "values": [0.1, 0.01]})
    assert s.lr_at(10, 0) == 0.1 and s.lr_at(11, 0) == 0.01


def test_rebasing_a_curve_at_zero_falls_back_to_a_constant():
    s = sched(Cosine(kind="cosine", decay_steps=100))
    r = s.rebased(500, 5, 0.002)
    assert r.kind == "constant" and r.lr_at(600, 6) == 0.002


def test_describe():
    assert sched(Exponential(kind="exponential", decay_steps=20_000, decay_rate=0.1)).describe() \
        == "exponential: 0.01 * 0.1^(t/20000)"
    assert sched(Exponential(kind="exponential", decay_steps=20, decay_rate=0.1, per="epoch")).describe() \
        == "exponential per epoch: 0.01 * 0.1^(epoch/20)"
    assert sched(Power(kind="power", decay_steps=10_000)).describe() == "power: 0.01 / (1 + 1*t/10000)"
    assert sched(Piecewise(kind="piecewise", boundaries=[5, 15], values=[0.01, 0.005, 0.001],
                           per="epoch")).describe() \
        == "piecewise per epoch: 0.01 while epoch<5, 0.005 while epoch<15, then 0.001"
    assert sched(Constant(kind="constant"), origin_step=40).describe() == "constant: 0.01, t = step - 40"
    assert sched(OneCycle(kind="one_cycle", max_lr=0.1), total_steps=1000).describe() \
        == "one_cycle: 0.01 -> 0.1 at t=449 -> 0.01 at t=898 -> 1e-05 at t=1000"
    assert sched(LRFinder(kind="lr_finder"), total_steps=430).describe() \
        == "lr_finder: 0.0001 -> 1 exponentially over 430 steps"
    assert sched(Cosine(kind="cosine", decay_steps=100, warmup_steps=10, warmup_target=0.1)).describe() \
        == "cosine: 0.01 -> 0.1 over 10 steps, then 0.1 -> 0 over 100 steps"
    perf = sched(Performance(kind="performance", patience=5))
    assert perf.describe().startswith("performance: lr 0.01, x0.5 after 5 epochs without val_loss")
    halved = sched(Exponential(kind="exponential", decay_steps=100, decay_rate=0.5)).rebased(0, 0, 0.005)
    assert halved.describe() == "exponential: 0.005 * 0.5^(t/100)"
    assert all(math.isfinite(sched(c).lr_at(10, 0)) for c in ALL_CFGS)
