"""The statistics table of one step, checked against NumPy on the same real batch.

A tiny real model (a Dense layer with a bias, a bias-free Dense layer, a frozen layer, the
output layer) takes one plain-SGD step with statistics on; every column is recomputed in
NumPy from the gradients of that step (taken with a separate GradientTape on the weights
before it), the weights after it, and the layers' outputs.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import tiny_preset
from tuitrain.data import load_data
from tuitrain.engine.events import CORE_COLUMNS, STAT_COLUMNS, not_core
from tuitrain.engine.gradstats import MODES, SMALL
from tuitrain.engine.increments import increments_apply
from tuitrain.engine.instrumented import InstrumentedSequential

LR = 0.05


def _model():
    keras.utils.set_random_seed(3)
    model = InstrumentedSequential([
        keras.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(12, activation="relu", name="hidden"),
        keras.layers.Dense(12, activation="elu", use_bias=False, name="nobias"),
        keras.layers.Dense(12, activation="relu", name="frozen"),
        keras.layers.Dense(10, activation="softmax", name="out"),
    ])
    model.get_layer("frozen").trainable = False
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="sparse_categorical_crossentropy")
    return model


def _one_stats_step(model, x, y, full=True):
    """Run one statistics step through the model's own train function; return its table."""
    model.set_clipping("off", 1.0)
    model.select(True, full=full)
    data = tf.data.Dataset.from_tensors((x, y))
    logs = model.train_function(iter(data))
    return model.stats_table(logs)


@pytest.mark.parametrize("activations", [True, False])
def test_every_column_matches_numpy(activations):
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    model = _model()
    model.measure_activations = activations
    before = {w.path: np.array(w.numpy()) for w in model.trainable_weights}
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    grads = {w.path: g.numpy() for w, g in zip(model.trainable_weights,
                                                tape.gradient(loss, model.trainable_weights))}
    outputs = {}
    h = x
    for layer in model.layers:
        h = layer(h, training=True)
        outputs[layer.name] = h.numpy()

    table = _one_stats_step(model, x, y)

    names = model.stat_layer_names()
    assert names == ["hidden", "nobias", "frozen", "out"]
    assert table.shape == (4, len(STAT_COLUMNS))
    col = {c: i for i, c in enumerate(STAT_COLUMNS)}
    for r, layer in enumerate(model.stat_layers()):
        row = table[r]
        if not layer.trainable_weights:   # frozen: no gradient figures at all
            assert all(math.isnan(row[col[c]]) for c in STAT_COLUMNS[:8])
            continue
        paths = [w.path for w in layer.trainable_weights]
        g = np.concatenate([grads[p].ravel() for p in paths])
        w0 = np.concatenate([before[p].ravel() for p in paths])
        w1 = np.concatenate([np.asarray(w.numpy()).ravel() for w in layer.trainable_weights])
        np.testing.assert_allclose(w1, w0 - LR * g, rtol=1e-5, atol=1e-7)   # plain SGD
        expected = {
            "norm": np.linalg.norm(g), "mean": g.mean(), "std": g.std(),
            "max_abs": np.abs(g).max(), "zero_frac": np.mean(g == 0), "nonfinite": 0.0,
            "weight_norm": np.linalg.norm(w1),
            "update_ratio": np.linalg.norm(w1 - w0) / np.linalg.norm(w1),
        }
        for c, v in expected.items():
            assert row[col[c]] == pytest.approx(v, rel=2e-3, abs=1e-7), (layer.name, c)
        a = outputs[layer.name]
        if activations:
            assert row[col["act_mean"]] == pytest.approx(a.mean(), rel=2e-3, abs=1e-6)
            assert row[col["act_std"]] == pytest.approx(a.std(), rel=2e-3, abs=1e-6)
        else:
            assert math.isnan(row[col["act_mean"]]) and math.isnan(row[col["act_std"]])
    # The frozen layer's activations are measured all the same: it still transforms data.
    if activations:
        assert table[2, col["act_std"]] == pytest.approx(outputs["frozen"].std(), rel=2e-3)


@pytest.mark.parametrize("mode", MODES)
def test_a_core_step_takes_the_same_core_figures_and_leaves_the_rest(mode):
    """``select(True, full=False)``: the gradient's norm, mean, std, zeros and non-finite
    count as a full step takes them on the same weights and batch; nothing else."""
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    tables = {}
    for full in (True, False):
        model = _model()
        model.stats_mode = mode
        model.set_clipping("off", 1.0)
        model.select(True, full=full)
        logs = model.train_function(iter(tf.data.Dataset.from_tensors((x, y))))
        assert model.stats_plan().full == full
        tables[full] = model.stats_table(logs)
    core, rest, trained = [STAT_COLUMNS.index(c) for c in CORE_COLUMNS], not_core(), [0, 1, 3]
    np.testing.assert_allclose(tables[False][:, core], tables[True][:, core], rtol=1e-5,
                               equal_nan=True)
    assert np.isfinite(tables[False][np.ix_(trained, core)]).all()
    assert np.isnan(tables[False][:, rest]).all()
    assert np.isfinite(tables[True][np.ix_(trained, rest)]).all()


@pytest.mark.parametrize("full", [True, False])
def test_nonfinite_entries_are_counted_per_layer(full):
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    model = _model()
    kernel = model.get_layer("out").kernel
    poisoned = np.array(kernel.numpy())
    poisoned[0, :3] = np.inf     # three weights of the output layer become inf
    kernel.assign(poisoned)
    table = _one_stats_step(model, x, y, full)
    nonfinite, norm = table[:, STAT_COLUMNS.index("nonfinite")], table[:, STAT_COLUMNS.index("norm")]
    assert nonfinite[3] > 0 and not math.isfinite(norm[3])
    for r in (0, 1, 3):   # counted exactly where the layer's norm is not finite
        assert (nonfinite[r] > 0) == (not math.isfinite(norm[r])), r
    assert math.isnan(nonfinite[2])   # frozen


def test_the_three_ways_of_taking_the_sums_agree():
    """Per variable, small ones stacked, all stacked by shape: the same table.

    Four hidden layers of 80 units make real groups: the four biases are stacked in both
    grouped modes; the three 80 x 80 kernels, above ``SMALL``, only in ``grouped``.
    """
    assert 80 <= SMALL < 80 * 80
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    tables, sizes = {}, {}
    for mode in MODES:
        keras.utils.set_random_seed(5)
        model = InstrumentedSequential(
            [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(80, activation="tanh")]
            + [keras.layers.Dense(80, activation="tanh") for _ in range(3)]
            + [keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(LR), loss="sparse_categorical_crossentropy")
        model.stats_mode = mode
        tables[mode] = _one_stats_step(model, x, y)
        plan = model.stats_plan()
        assert plan.mode == mode
        sizes[mode] = sorted(len(g) for g in plan.groups)
    assert sizes == {"per_variable": [1] * 10, "small_grouped": [1] * 6 + [4],
                     "grouped": [1] * 3 + [3, 4]}
    a = tables["per_variable"]
    assert a.shape == (5, len(STAT_COLUMNS)) and np.isfinite(a).all()
    for mode in MODES[1:]:
        np.testing.assert_allclose(tables[mode], a, rtol=1e-4, atol=1e-8, err_msg=mode)
    # The update ratio is the real applied step, not zero from an aliased weight read.
    assert (a[:, STAT_COLUMNS.index("update_ratio")] > 0).all()


def test_lean_and_keras_train_functions_measure_the_same_step():
    """A tf.data iterator takes the lean function; anything else (``train_on_batch``'s
    generator) takes Keras' own. Same weights, same batch: the same table and loss."""
    d = load_data(tiny_preset().data)
    x, y = d.x_train[:32], d.y_train[:32]
    results = []
    for path in ("lean", "keras"):
        model = _model()
        model.set_clipping("off", 1.0)
        model.select(True)
        if path == "lean":
            logs = model.train_function(iter(tf.data.Dataset.from_tensors((x, y))))
            logs = {k: np.asarray(v) for k, v in logs.items()}
        else:
            logs = model.train_on_batch(x, y, return_dict=True)
        results.append((float(logs["loss"]), model.stats_table(logs)))
    (loss_a, table_a), (loss_b, table_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    np.testing.assert_allclose(table_a, table_b, rtol=1e-4, equal_nan=True)
    assert np.isfinite(table_a[0]).all()


def test_statistics_under_mixed_bfloat16_match_float32():
    """The GPU preset option ``mixed_precision`` trains in bfloat16 with float32 weights.

    The policy is forced here on the CPU (the engine only sets it where a GPU is visible):
    the statistics step must still produce a finite float64 table, close to float32's.
    """
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    tables = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = _model()
            if policy != "float32":
                assert model.get_layer("hidden").compute_dtype == "bfloat16"
            tables[policy] = _one_stats_step(model, x, y)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    a, b = tables["float32"], tables["mixed_bfloat16"]
    norm, ratio = STAT_COLUMNS.index("norm"), STAT_COLUMNS.index("update_ratio")
    trained = [0, 1, 3]
    assert np.isfinite(b[trained]).all()
    np.testing.assert_allclose(b[trained, norm], a[trained, norm], rtol=0.1)
    np.testing.assert_allclose(b[trained, ratio], a[trained, ratio], rtol=0.1)


# Every optimizer a preset can name; the update ratio is checked against the weights
# themselves, after a first step so that momentum and moment slots are not zero.
_OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(LR),
    "momentum": lambda: keras.optimizers.SGD(LR, momentum=0.9),
    "nesterov": lambda: keras.optimizers.SGD(LR, momentum=0.9, nesterov=True),
    "adagrad": lambda: keras.optimizers.Adagrad(LR),
    "rmsprop": lambda: keras.optimizers.RMSprop(LR, momentum=0.5, centered=True),
    "adam": lambda: keras.optimizers.Adam(LR),
    "amsgrad": lambda: keras.optimizers.Adam(LR, amsgrad=True),
    "adamax": lambda: keras.optimizers.Adamax(LR),
    "nadam": lambda: keras.optimizers.Nadam(LR),
    "adamw": lambda: keras.optimizers.AdamW(LR, weight_decay=0.05),
}


@pytest.mark.parametrize("name", [*_OPTIMIZERS, "max_norm"])
def test_update_ratio_is_the_applied_update_for_every_optimizer(name):
    """The ratio comes from the optimizer's own increments where they are the whole update
    (every optimizer but AdamW's decoupled weight decay), from a snapshot otherwise (AdamW,
    a max-norm constraint); either way it is ||W after - W before|| / ||W after||."""
    d = load_data(tiny_preset().data)
    x, y = tf.constant(d.x_train[:32]), tf.constant(d.y_train[:32])
    model = _model()
    if name == "max_norm":   # R28: the constraint rescales kernels after the update
        model.get_layer("hidden").kernel.constraint = keras.constraints.MaxNorm(0.3)
    optimizer = _OPTIMIZERS.get(name, _OPTIMIZERS["sgd"])()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    increments = name not in ("adamw", "max_norm")
    assert increments_apply(optimizer, model.trainable_weights, model.distribute_strategy) \
        == increments
    model.set_clipping("off", 1.0)
    model.select(False)
    model.train_function(iter(tf.data.Dataset.from_tensors((x, y))))
    before = [np.array(w.numpy()) for w in model.trainable_weights]
    table = _one_stats_step(model, x, y)
    assert not {"assign", "assign_add", "assign_sub"} & set(vars(optimizer))  # restored
    assert model.stats_plan().update_from == ("increments" if increments else "snapshot")
    after = {id(w): (b, np.array(w.numpy())) for w, b in zip(model.trainable_weights, before)}
    ratio = STAT_COLUMNS.index("update_ratio")
    for r, layer in enumerate(model.stat_layers()):
        if not layer.trainable_weights:
            continue
        w0, w1 = (np.concatenate([after[id(w)][k].ravel() for w in layer.trainable_weights])
                  for k in (0, 1))
        expected = np.linalg.norm(w1.astype(np.float64) - w0) / np.linalg.norm(w1)
        assert expected > 0
        assert table[r, ratio] == pytest.approx(expected, rel=2e-3), layer.name
