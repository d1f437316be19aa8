"""Model building: presets -> real Keras models, optimizers, transfer learning, MC dropout."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest

from tuitrain.preset import ActivationName, load_preset, validate_preset
from tuitrain.engine.build import (
    BuildError, build_model, build_optimizer, loss_for, metrics_for, mc_dropout_predict,
    resolve_transfer_source, reused_layer_count, set_reused_trainable,
)
from tuitrain.preset import Transfer

PRESETS = sorted((Path(__file__).resolve().parent.parent / "presets").glob("*.toml"))


def make(layers, *, output=None, optimizer=None, epochs=2, seed=42, data=None, **model):
    dataset, data = data, {
        "name": "t",
        "model": {"layers": layers, **model},
        "optimizer": optimizer or {"name": "sgd", "learning_rate": 0.01},
        "train": {"epochs": epochs, "seed": seed},
    }
    if output is not None:
        data["model"]["output"] = output
    if output is not None and output.get("units") == 1:
        data["data"] = {"task": "transfer_b"}
    if output is not None and output.get("units") == 8:
        data["data"] = {"task": "transfer_a"}
    data["data"] = {**data.get("data", {}), **(dataset or {})}
    return validate_preset(data)


def of_type(model, cls):
    return [l for l in model.layers if type(l) is cls]


def n_non_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


R03 = [
    {"type": "flatten"},
    {"type": "batch_norm"},
    {"units": 300, "activation": "relu", "kernel_initializer": "he_normal", "batch_norm": "after"},
    {"units": 100, "activation": "relu", "kernel_initializer": "he_normal", "batch_norm": "after"},
]
TINY = [{"units": 16, "activation": "relu", "kernel_initializer": "he_normal", "repeat": 2}]


def save_tiny_a(path: Path, input_shape=(28, 28)) -> keras.Model:
    """A small trained-shape 'model A' (8 classes) saved as .keras."""
    other = {"dataset": "cifar10"} if tuple(input_shape) == (32, 32, 3) else None
    a = build_model(make(TINY, output={"units": 8}, input_shape=list(input_shape), data=other))
    a.save(path)
    return a


# --------------------------------------------------------------------------- shipped presets


def _expected_counts(preset):
    flat = preset.model.flat_layers()
    dense = [l for l in flat if l.type == "dense"]
    bn = sum(l.type == "batch_norm" for l in flat) + sum(l.batch_norm != "none" for l in dense)
    drop = sum(l.type in ("dropout", "alpha_dropout") for l in flat)
    return len(dense) + 1, bn, drop


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_shipped_preset_builds(path, tmp_path):
    preset = load_preset(path)
    if preset.model.transfer is not None:
        src = tmp_path / "a.keras"
        save_tiny_a(src, preset.model.input_shape)
        preset = load_preset(path, [f"model.transfer.source={src}"])
        model = build_model(preset)
        assert reused_layer_count(model) == len(model.layers) - 1
    else:
        model = build_model(preset)
        dense, bn, drop = _expected_counts(preset)
        assert len(of_type(model, keras.layers.Dense)) == dense
        assert len(of_type(model, keras.layers.BatchNormalization)) == bn
        dropouts = (keras.layers.Dropout, keras.layers.AlphaDropout)
        assert len([l for l in model.layers if isinstance(l, dropouts)]) == drop
    names = [l.name for l in model.layers]
    assert len(set(names)) == len(names)
    assert names[-1] == "output"
    assert model.output_shape == (None, preset.model.output.units)
    assert model.count_params() > 0
    build_optimizer(preset.optimizer)


# --------------------------------------------------------------------------- architecture


@pytest.mark.skipif(not any(p.stem.startswith("r03") for p in PRESETS), reason="no R03 preset")
def test_shipped_r03_matches_the_chapter():
    (path,) = [p for p in PRESETS if load_preset(p).chapter == "R03"]
    model = build_model(load_preset(path))
    assert (model.count_params(), n_non_trainable(model)) == (271_346, 2_368)


def test_r03_parameter_counts_match_the_chapter():
    model = build_model(make(R03))
    assert model.count_params() == 271_346
    assert n_non_trainable(model) == 2_368
    assert [l.name for l in model.layers] == [
        "flatten", "bn_1", "dense_1", "bn_2", "dense_2", "bn_3", "output"]


def test_flatten_added_when_omitted_and_engine_class_used():
    class Engine(keras.Sequential):
        pass

    model = build_model(make(TINY), model_cls=Engine)
    assert isinstance(model, Engine)
    assert isinstance(model.layers[0], keras.layers.Flatten)
    assert model.input_shape == (None, 28, 28)


def test_hundred_layer_selu_net():
    preset = make([{"units": 100, "activation": "selu", "kernel_initializer": "lecun_normal",
                    "repeat": 100}])
    model = build_model(preset)
    hidden = of_type(model, keras.layers.Dense)[:-1]
    assert len(hidden) == 100
    assert [l.name for l in hidden] == [f"dense_{i}" for i in range(1, 101)]
    assert all(l.activation is keras.activations.selu for l in hidden)
    assert all(type(l.kernel_initializer) is keras.initializers.LecunNormal for l in hidden)


def test_same_seed_same_weights_other_seed_other_weights():
    w1 = build_model(make(TINY, seed=7)).get_weights()
    w2 = build_model(make(TINY, seed=7)).get_weights()
    w3 = build_model(make(TINY, seed=8)).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert not np.array_equal(w1[0], w3[0])


def test_regularizer_constraint_dropout_and_initializer_objects():
    model = build_model(make([
        {"type": "dropout", "rate": 0.2},
        {"units": 8, "kernel_regularizer": {"kind": "l2", "l2": 0.01},
         "kernel_constraint": {"max_norm": 1.0},
         "kernel_initializer": {"name": "variance_scaling", "scale": 2.0, "mode": "fan_avg",
                                "distribution": "uniform"}},
        {"type": "alpha_dropout", "rate": 0.1},
        {"units": 8, "kernel_regularizer": {"kind": "l1_l2", "l1": 0.001, "l2": 0.002}},
    ], output={"units": 10, "kernel_regularizer": {"kind": "l1", "l1": 0.03}}))
    d1, d2, out = of_type(model, keras.layers.Dense)
    assert isinstance(d1.kernel_regularizer, keras.regularizers.L2)
    assert d1.kernel_regularizer.l2 == pytest.approx(0.01)
    assert isinstance(d1.kernel_constraint, keras.constraints.MaxNorm)
    assert d1.kernel_constraint.max_value == 1.0 and d1.kernel_constraint.axis == 0
    init = d1.kernel_initializer
    assert isinstance(init, keras.initializers.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (2.0, "fan_avg", "uniform")
    assert isinstance(d2.kernel_regularizer, keras.regularizers.L1L2)
    assert d2.kernel_regularizer.l2 == pytest.approx(0.002)
    assert isinstance(out.kernel_regularizer, keras.regularizers.L1)
    (drop,) = of_type(model, keras.layers.Dropout)
    (alpha,) = of_type(model, keras.layers.AlphaDropout)
    assert drop.rate == 0.2 and alpha.rate == 0.1
    assert len(model.losses) == 3  # the three penalties reach the loss


def test_parametric_activations_are_layers_and_batch_norm_order():
    model = build_model(make([
        {"units": 8, "activation": {"name": "leaky_relu", "alpha": 0.1}},
        {"units": 8, "activation": {"name": "elu", "alpha": 0.5}, "batch_norm": "after"},
        {"units": 8, "activation": "relu", "use_bias": False, "batch_norm": "before"},
        {"type": "activation", "activation": {"name": "leaky_relu", "alpha": 0.3}},
    ]))
    kinds = [(type(l).__name__, l.name) for l in model.layers]
    assert kinds == [
        ("Flatten", "flatten"), ("Dense", "dense_1"), ("LeakyReLU", "act_1"),
        ("Dense", "dense_2"), ("ELU", "act_2"), ("BatchNormalization", "bn_1"),
        ("Dense", "dense_3"), ("BatchNormalization", "bn_2"), ("Activation", "act_3"),
        ("LeakyReLU", "act_4"), ("Dense", "output"),
    ]
    assert model.layers[2].negative_slope == pytest.approx(0.1)
    assert model.layers[4].alpha == pytest.approx(0.5)
    assert model.layers[6].use_bias is False
    assert model.layers[6].activation is keras.activations.linear
    assert model.layers[8].activation is keras.activations.relu


@pytest.mark.parametrize("name", ActivationName.__args__)
def test_every_activation_name_builds(name):
    model = build_model(make([{"units": 4, "activation": name}]))
    assert of_type(model, keras.layers.Dense)[0].activation is keras.activations.get(name)


# --------------------------------------------------------------------------- optimizers

OPTIMIZERS = [
    ({"name": "sgd", "momentum": 0.9, "nesterov": True}, keras.optimizers.SGD,
     {"momentum": 0.9, "nesterov": True}),
    ({"name": "adagrad", "initial_accumulator_value": 0.2, "epsilon": 1e-6},
     keras.optimizers.Adagrad, {"initial_accumulator_value": 0.2, "epsilon": 1e-6}),
    ({"name": "rmsprop", "rho": 0.8, "momentum": 0.5, "centered": True},
     keras.optimizers.RMSprop, {"rho": 0.8, "momentum": 0.5, "centered": True}),
    ({"name": "adam", "beta_1": 0.8, "beta_2": 0.99, "amsgrad": True}, keras.optimizers.Adam,
     {"beta_1": 0.8, "beta_2": 0.99, "amsgrad": True}),
    ({"name": "adamax", "beta_1": 0.85}, keras.optimizers.Adamax, {"beta_1": 0.85}),
    ({"name": "nadam", "beta_2": 0.98}, keras.optimizers.Nadam, {"beta_2": 0.98}),
    ({"name": "adamw", "weight_decay": 1e-5, "beta_1": 0.7}, keras.optimizers.AdamW,
     {"weight_decay": 1e-5, "beta_1": 0.7}),
]


@pytest.mark.parametrize("cfg,cls,attrs", OPTIMIZERS, ids=[o[0]["name"] for o in OPTIMIZERS])
def test_every_optimizer_with_its_hyperparameters(cfg, cls, attrs):
    preset = make(TINY, optimizer={**cfg, "learning_rate": 0.003})
    opt = build_optimizer(preset.optimizer)
    assert type(opt) is cls
    for key, value in attrs.items():
        assert getattr(opt, key) == pytest.approx(value), key
    assert float(opt.learning_rate) == pytest.approx(0.003)
    assert opt.clipnorm is None and opt.clipvalue is None and opt.global_clipnorm is None
    opt.learning_rate.assign(0.5)  # the engine sets the rate in place every step
    assert float(opt.learning_rate) == pytest.approx(0.5)
    assert float(build_optimizer(preset.optimizer, 0.02).learning_rate) == pytest.approx(0.02)


def test_loss_and_metrics():
    assert loss_for(make(TINY)) == "sparse_categorical_crossentropy"
    assert loss_for(make(TINY, output={"units": 1, "activation": "sigmoid"})) == "binary_crossentropy"
    logits = loss_for(make(TINY, output={"units": 10, "activation": "linear"}))
    assert isinstance(logits, keras.losses.SparseCategoricalCrossentropy)
    assert metrics_for(make(TINY)) == ["accuracy"]


def test_tiny_model_learns_in_one_epoch_on_the_embedded_subset():
    from tuitrain.data import load_data
    from tuitrain.preset import DataConfig

    d = load_data(DataConfig(source="subset", limit=500, validation_size=200))
    preset = make(TINY, optimizer={"name": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    model = build_model(preset)
    model.compile(optimizer=build_optimizer(preset.optimizer), loss=loss_for(preset),
                  metrics=metrics_for(preset))
    before = model.evaluate(d.x_train, d.y_train, verbose=0)[0]
    model.fit(d.x_train, d.y_train, epochs=1, batch_size=32, verbose=0, shuffle=False)
    after = model.evaluate(d.x_train, d.y_train, verbose=0)[0]
    assert after < before * 0.8


# --------------------------------------------------------------------------- save, resolve, transfer


def _run_folder(logs: Path, folder: str, name: str, model: keras.Model | None, mtime=None):
    d = logs / folder
    d.mkdir(parents=True)
    (d / "preset.toml").write_text(f'name = "{name}"\n')
    if model is not None:
        model.save(d / "model.keras")
        if mtime is not None:
            os.utime(d / "model.keras", (mtime, mtime))
    return d


def test_save_reload_and_resolve_through_folder_and_name(tmp_path):
    logs = tmp_path / "logs"
    a = build_model(make(TINY, output={"units": 8}))
    old = _run_folder(logs, "20240101-r05", "r05_transfer_a", a, mtime=1_000_000)
    new = _run_folder(logs, "20240102-r05", "r05_transfer_a", a, mtime=2_000_000)
    _run_folder(logs, "20240103-r05", "r05_transfer_a", None)  # unfinished: no model
    _run_folder(logs, "20240104-other", "other", a, mtime=3_000_000)

    assert resolve_transfer_source(Transfer(source=str(old)), logs) == old / "model.keras"
    assert resolve_transfer_source(Transfer(source="20240101-r05"), logs) == old / "model.keras"
    assert resolve_transfer_source(Transfer(source="r05_transfer_a"), logs) == new / "model.keras"
    file = new / "model.keras"
    assert resolve_transfer_source(Transfer(source=str(file)), logs) == file

    loaded = keras.models.load_model(file)
    x = np.random.default_rng(1).normal(size=(5, 28, 28)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), a.predict(x, verbose=0), rtol=1e-6)
    assert [l.name for l in loaded.layers] == [l.name for l in a.layers]


def test_resolve_errors_say_what_to_run(tmp_path):
    logs = tmp_path / "logs"
    with pytest.raises(BuildError, match=r"run `tuitrain run r05_transfer_a` first"):
        resolve_transfer_source(Transfer(source="r05_transfer_a"), logs)
    _run_folder(logs, "unfinished", "r05_transfer_a", None)
    with pytest.raises(BuildError, match="has no model.keras"):
        resolve_transfer_source(Transfer(source=str(logs / "unfinished")), logs)
    with pytest.raises(BuildError, match="does not exist"):
        resolve_transfer_source(Transfer(source=str(tmp_path / "nope.keras")), logs)
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(BuildError, match="cannot load"):
        build_model(make(TINY, output={"units": 1, "activation": "sigmoid"}, epochs=5,
                         transfer={"source": str(bad)}))


def _transfer_preset(source: str, **kw):
    return make([], output={"units": 1, "activation": "sigmoid"}, epochs=5,
                transfer={"source": source, "freeze_epochs": 2}, **kw)


def test_transfer_reuses_and_freezes_then_unfreezes(tmp_path):
    a = save_tiny_a(tmp_path / "a.keras")
    model = build_model(_transfer_preset(str(tmp_path / "a.keras")))
    n = reused_layer_count(model)
    assert n == len(a.layers) - 1 == 3
    assert [l.name for l in model.layers] == ["flatten", "dense_1", "dense_2", "output"]
    for mine, theirs in zip(model.layers[:n], a.layers[:n]):
        assert all(np.array_equal(w1, w2) for w1, w2 in zip(mine.get_weights(), theirs.get_weights()))
        assert mine.trainable is False
    assert model.layers[-1].trainable and model.layers[-1].units == 1
    assert len(model.trainable_weights) == 2  # only the new output's kernel and bias
    set_reused_trainable(model, True)
    assert all(l.trainable for l in model.layers)
    assert len(model.trainable_weights) == 6
    set_reused_trainable(model, False)
    assert len(model.trainable_weights) == 2


@pytest.mark.skipif(not {"r05_transfer_a", "r07_transfer_b_on_a"} <= {p.stem for p in PRESETS},
                    reason="no R05/R07 presets")
def test_shipped_r07_finds_the_r05_run_by_preset_name(tmp_path):
    folder = Path(PRESETS[0]).parent
    r05, r07 = load_preset(folder / "r05_transfer_a.toml"), load_preset(folder / "r07_transfer_b_on_a.toml")
    logs = tmp_path / "logs"
    with pytest.raises(BuildError, match=f"tuitrain run {r05.name}"):
        build_model(r07, logs_dir=logs)
    a = build_model(r05)
    _run_folder(logs, "run-r05", r05.name, a)
    b = build_model(r07, logs_dir=logs)
    assert reused_layer_count(b) == len(a.layers) - 1
    assert b.output_shape == (None, 1)
    assert not any(l.trainable for l in b.layers[:-1])


def test_transfer_from_a_model_object_leaves_it_untouched():
    a = build_model(make(TINY, output={"units": 8}))
    model = build_model(_transfer_preset("unused.keras"), source_model=a)
    assert reused_layer_count(model) == 3
    assert all(l.trainable for l in a.layers)
    assert model.layers[1] is not a.layers[1]


def test_transfer_rejects_other_input_shapes(tmp_path):
    save_tiny_a(tmp_path / "a.keras", input_shape=(32, 32, 3))
    with pytest.raises(BuildError, match="inputs of shape"):
        build_model(_transfer_preset(str(tmp_path / "a.keras")))


def test_model_without_transfer_reuses_nothing():
    assert reused_layer_count(build_model(make(TINY))) == 0


# --------------------------------------------------------------------------- MC dropout


def test_mc_dropout_varies_per_pass_and_averages_to_probabilities():
    model = build_model(make([
        {"type": "dropout", "rate": 0.2},
        {"units": 32, "activation": "relu", "kernel_initializer": "he_normal"},
        {"type": "dropout", "rate": 0.2},
    ]))
    x = np.random.default_rng(2).normal(size=(50, 28, 28)).astype("float32")
    one = mc_dropout_predict(model, x, samples=1)
    two = mc_dropout_predict(model, x, samples=1)
    assert not np.allclose(one, two)
    mean = mc_dropout_predict(model, x, samples=20, batch_size=16)
    assert mean.shape == (50, 10)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=1e-5)
    det = model.predict(x, verbose=0)
    assert np.abs(mean - det).mean() < np.abs(one - det).mean()


def test_mc_dropout_keeps_batch_norm_in_inference_mode():
    model = build_model(make([{"type": "batch_norm"}, {"units": 8, "activation": "relu"}]))
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(20, 28, 28)).astype("float32")
    np.testing.assert_allclose(mc_dropout_predict(model, x, samples=3),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        mc_dropout_predict(model, x, samples=0)
