"""Presets: the shipped chapter-11 presets, overrides, advisories, errors, schema, discovery."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tuitrain.catalog import list_presets, resolve_preset, shipped_presets_dir
from tuitrain.cli_format import preset_toml, schema_text
from tuitrain.preset import (
    PresetError, apply_overrides, field_errors, json_schema, load_preset, read_toml, validate_preset,
)

REPO = Path(__file__).resolve().parent.parent
PRESETS_DIR = REPO / "presets"
SHIPPED = sorted(PRESETS_DIR.glob("*.toml"))
BAD_DIR = Path(__file__).resolve().parent / "bad_presets"
BAD = sorted(BAD_DIR.glob("*.toml"))

MINIMAL = """
name = "mine"
description = "a user's own preset"
[model]
[[model.layers]]
units = 8
[optimizer]
name = "sgd"
[train]
epochs = 1
"""


def shipped(stem: str):
    return load_preset(PRESETS_DIR / f"{stem}.toml")


def get(obj, path: str):
    """``get(preset, "model.layers[0].units")``."""
    for part in re.findall(r"[^.\[\]]+", path):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


# --------------------------------------------------------------------------- shipped presets


def test_every_chapter_run_has_a_preset():
    chapters = [load_preset(p).chapter for p in SHIPPED]
    expected = {f"R{i:02d}" for i in range(1, 29)} - {"R20"} | {"R27mc", "X8"}
    assert set(c for c in chapters if c) == expected
    assert chapters.count("X8") == 5  # baseline, BN, SELU, alpha dropout, 1cycle
    assert {"quickstart.toml", "sigmoid_deep.toml"} <= {p.name for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_preset_is_valid_and_described(path):
    preset = load_preset(path)
    assert preset.name == path.stem
    assert preset.description and "\n" not in preset.description
    if preset.chapter:
        assert preset.description.startswith(preset.chapter[:3])
        assert preset.train.seed == 42
    # The chapter's runs are the right way to do things: nothing to warn about.
    assert preset.advisories() == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_show_output_loads_back_to_the_same_preset(path):
    preset = load_preset(path)
    text = preset_toml(preset, path)
    assert validate_preset(tomllib.loads(text), "shown") == preset


ROWS = [
    ("r01_selu_deep", {"model.layers[0].repeat": 100, "model.layers[0].units": 100,
                       "model.layers[0].activation": "selu",
                       "model.layers[0].kernel_initializer": "lecun_normal",
                       "data.normalization": "standardize", "optimizer.name": "sgd",
                       "optimizer.learning_rate": 0.001, "train.epochs": 5,
                       "train.batch_size": 32}),
    ("r02_relu_deep", {"model.layers[0].repeat": 100, "model.layers[0].activation": "relu",
                       "model.layers[0].kernel_initializer": "he_normal",
                       "data.normalization": "standardize", "train.epochs": 5}),
    ("r03_bn_after", {"model.layers[0].type": "batch_norm", "model.layers[1].units": 300,
                      "model.layers[1].batch_norm": "after", "model.layers[2].units": 100,
                      "optimizer.learning_rate": 0.01, "train.epochs": 2,
                      "data.normalization": "scale"}),
    ("r04_bn_before", {"model.layers[0].use_bias": False, "model.layers[0].batch_norm": "before",
                       "model.layers[1].use_bias": False, "train.epochs": 2}),
    ("r05_transfer_a", {"data.task": "transfer_a", "model.output.units": 8,
                        "optimizer.learning_rate": 0.001, "train.epochs": 20}),
    ("r06_transfer_b_scratch", {"data.task": "transfer_b", "data.limit": 200,
                                "model.output.units": 1, "model.output.activation": "sigmoid",
                                "model.layers[0].repeat": 3, "train.epochs": 20}),
    ("r07_transfer_b_on_a", {"model.transfer.source": "r05_transfer_a",
                             "model.transfer.freeze_epochs": 4, "train.epochs": 20,
                             "data.task": "transfer_b", "data.limit": 200,
                             "optimizer.learning_rate": 0.001}),
    ("r10_nesterov", {"optimizer.momentum": 0.9, "optimizer.nesterov": True,
                      "optimizer.learning_rate": 0.001, "train.epochs": 10}),
    ("r12_rmsprop", {"optimizer.name": "rmsprop", "optimizer.rho": 0.9}),
    ("r13_adam", {"optimizer.name": "adam", "optimizer.beta_1": 0.9, "optimizer.beta_2": 0.999}),
    ("r14_adamax", {"optimizer.name": "adamax"}),
    ("r16_adamw", {"optimizer.name": "adamw", "optimizer.weight_decay": 1e-5}),
    ("r17_power_schedule", {"schedule.kind": "power", "schedule.decay_steps": 10_000,
                            "schedule.decay_rate": 1.0, "optimizer.learning_rate": 0.01}),
    ("r18_exponential_schedule", {"schedule.kind": "exponential", "schedule.decay_steps": 20_000,
                                  "schedule.decay_rate": 0.1, "schedule.per": "step"}),
    ("r19_exponential_per_epoch", {"schedule.per": "epoch", "schedule.decay_steps": 20,
                                   "optimizer.learning_rate": 0.01, "train.epochs": 20}),
    ("r21_piecewise_per_step", {"schedule.boundaries": [50_000, 80_000],
                                "schedule.values": [0.01, 0.005, 0.001], "train.epochs": 10}),
    ("r22_piecewise_per_epoch", {"optimizer.name": "nadam", "schedule.per": "epoch",
                                 "schedule.boundaries": [5, 15], "train.epochs": 25}),
    ("r23_performance_schedule", {"schedule.kind": "performance", "schedule.factor": 0.5,
                                  "schedule.patience": 5, "schedule.monitor": "val_loss",
                                  "train.epochs": 25}),
    ("r24_lr_finder", {"schedule.kind": "lr_finder", "schedule.min_lr": 1e-4,
                       "schedule.max_lr": 1.0, "train.batch_size": 128, "train.epochs": 1,
                       "train.restore_weights": True, "train.pause_on_nonfinite": False}),
    ("r25_one_cycle", {"schedule.kind": "one_cycle", "schedule.max_lr": 0.1,
                       "train.batch_size": 128, "train.epochs": 25}),
    ("r26_l2", {"model.layers[0].kernel_regularizer.l2": 0.01, "model.layers[0].repeat": 2,
                "model.output.kernel_regularizer.l2": 0.01, "optimizer.learning_rate": 0.02,
                "train.epochs": 2}),
    ("r27_dropout", {"model.layers[0].rate": 0.2, "model.layers[2].rate": 0.2,
                     "model.layers[4].type": "dropout", "optimizer.momentum": 0.9,
                     "train.epochs": 10}),
    ("r27mc_mc_dropout", {"evaluation.mc_dropout_samples": 100}),
    ("r28_max_norm", {"model.layers[0].kernel_constraint.max_norm": 1.0,
                      "optimizer.momentum": 0.9}),
    ("x8_cifar10_swish", {"data.dataset": "cifar10", "data.validation_from": "start",
                          "model.layers[0].repeat": 20, "model.layers[0].activation": "swish",
                          "optimizer.learning_rate": 5e-5, "train.epochs": 100,
                          "train.early_stopping.patience": 20}),
    ("x8_cifar10_bn", {"model.layers[0].batch_norm": "before", "optimizer.learning_rate": 5e-4}),
    ("x8_cifar10_selu", {"data.normalization": "standardize", "optimizer.learning_rate": 7e-4,
                         "model.layers[0].kernel_initializer": "lecun_normal"}),
    ("x8_cifar10_alpha_dropout", {"model.layers[1].type": "alpha_dropout",
                                  "model.layers[1].rate": 0.1, "optimizer.learning_rate": 5e-4}),
    ("x8_cifar10_one_cycle", {"schedule.max_lr": 0.05, "train.batch_size": 128,
                              "train.epochs": 15, "model.layers[1].type": "alpha_dropout"}),
    ("quickstart", {"optimizer.name": "adam", "optimizer.learning_rate": 0.001,
                    "data.dataset": "fashion_mnist", "data.limit": 10_000, "train.epochs": 5,
                    "stats.every": 10, "model.layers[0].repeat": 3}),
    ("sigmoid_deep", {"model.layers[0].activation": "sigmoid",
                      "model.layers[0].kernel_initializer": "glorot_uniform", "chapter": None}),
]


@pytest.mark.parametrize("stem, fields", ROWS, ids=[r[0] for r in ROWS])
def test_shipped_preset_matches_the_chapter(stem, fields):
    preset = shipped(stem)
    for path, expected in fields.items():
        assert get(preset, path) == expected, path


def test_mc_dropout_preset_is_the_dropout_run():
    r27, mc = shipped("r27_dropout"), shipped("r27mc_mc_dropout")
    for section in ("data", "model", "optimizer", "schedule", "train"):
        assert getattr(r27, section) == getattr(mc, section), section
    assert r27.evaluation.mc_dropout_samples == 0


def test_transfer_source_names_a_shipped_preset():
    source = shipped("r07_transfer_b_on_a").model.transfer.source
    assert resolve_preset(source) == PRESETS_DIR / "r05_transfer_a.toml"


def test_sigmoid_deep_says_it_is_not_a_notebook_run():
    assert "not a notebook run" in shipped("sigmoid_deep").description.lower()


# --------------------------------------------------------------------------- overrides


def test_apply_overrides_parses_values_and_copies():
    data = read_toml(PRESETS_DIR / "quickstart.toml")
    out = apply_overrides(data, ["optimizer.learning_rate=0.01", "train.shuffle=false",
                                 "data.normalization=standardize", "model.layers.0.units=50",
                                 "clipping.mode=norm", "model.input_shape=[28, 28]"])
    assert out["optimizer"]["learning_rate"] == 0.01
    assert out["train"]["shuffle"] is False
    assert out["data"]["normalization"] == "standardize"  # a bare word is a string
    assert out["model"]["layers"][0]["units"] == 50
    assert out["clipping"] == {"mode": "norm"}  # a missing section is created
    assert data["model"]["layers"][0]["units"] == 100  # the input is untouched


def test_load_preset_applies_overrides():
    preset = load_preset(PRESETS_DIR / "r01_selu_deep.toml",
                         ["optimizer.learning_rate=0.01", "train.epochs=3",
                          "optimizer.name=nadam"])
    assert (preset.optimizer.name, preset.optimizer.learning_rate) == ("nadam", 0.01)
    assert preset.train.epochs == 3


@pytest.mark.parametrize("override, field, reason", [
    ("train.epochs=0", "train.epochs", "greater than 0"),
    ("train.epoch=3", "train.epoch", "unknown key"),
    ("optimizer.name=adadelta", "optimizer.name", "adadelta"),
    ("optimizer.momentum=1.5", "optimizer.momentum", "less than 1"),
])
def test_overrides_are_validated_like_the_file(override, field, reason):
    with pytest.raises(PresetError) as info:
        load_preset(PRESETS_DIR / "r09_momentum.toml", [override])
    assert info.value.field == field and reason in info.value.reason


def test_override_errors_say_the_value_came_from_the_command_line():
    with pytest.raises(PresetError) as info:
        load_preset(PRESETS_DIR / "quickstart.toml", ["model.layers.0.units=-1"])
    assert info.value.field == "model.layers[0].units"
    assert info.value.reason.endswith("(from --set)")
    with pytest.raises(PresetError) as info:  # the file's own mistake is not blamed on --set
        load_preset(BAD_DIR / "zero_units.toml", ["train.epochs=2"])
    assert "--set" not in str(info.value)


@pytest.mark.parametrize("override, field", [
    ("train.epochs", "train.epochs"),  # no "="
    ("train..epochs=3", "train..epochs"),
    ("train.epochs.max=3", "train.epochs"),  # a value is not a section
    ("model.layers.7.units=3", "model.layers.7"),
])
def test_malformed_overrides_name_the_option(override, field):
    with pytest.raises(PresetError) as info:
        load_preset(PRESETS_DIR / "quickstart.toml", [override])
    assert info.value.source == "--set" and info.value.field == field
    assert str(info.value).startswith("--set: ")


# --------------------------------------------------------------------------- advisories


def _advice(stem: str, *overrides: str) -> str:
    return " | ".join(load_preset(PRESETS_DIR / f"{stem}.toml", list(overrides)).advisories())


def test_selu_without_standardized_inputs_warns():
    assert "standardized inputs" in _advice("r01_selu_deep", "data.normalization=scale")


def test_selu_with_batch_norm_and_wrong_init_warns():
    assert "BatchNormalization" in _advice("r01_selu_deep", "model.layers.0.batch_norm=after")
    assert "lecun_normal" in _advice("r01_selu_deep",
                                     "model.layers.0.kernel_initializer=he_normal")


def test_dropout_in_selu_and_alpha_dropout_without_selu_warn():
    assert "alpha_dropout" in _advice("x8_cifar10_alpha_dropout", "model.layers.1.type=dropout")
    assert "SELU" in _advice("x8_cifar10_alpha_dropout", "model.layers.0.activation=relu",
                             "model.layers.0.kernel_initializer=he_normal")


def test_deep_relu_with_glorot_warns():
    assert "He initialization" in _advice("r02_relu_deep",
                                          "model.layers.0.kernel_initializer=glorot_uniform")


# --------------------------------------------------------------------------- errors


def expectation(path: Path) -> tuple[str | None, str]:
    """The ``# expect: FIELD`` and ``# reason: TEXT`` lines at the top of a bad preset."""
    head = path.read_bytes().decode("utf-8", "replace")
    field = re.search(r"^# expect: (.+)$", head, re.M)
    reason = re.search(r"^# reason: (.+)$", head, re.M)
    assert field and reason, f"{path.name} lacks its '# expect:' / '# reason:' lines"
    value = field.group(1).strip()
    return (None if value == "-" else value), reason.group(1).strip()


def test_enough_malformed_presets():
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_preset_error_names_file_field_and_reason(path):
    field, reason = expectation(path)
    with pytest.raises(PresetError) as info:
        load_preset(path)
    err = info.value
    assert err.source == str(path) and err.field == field
    assert reason in err.reason
    text = str(err)
    assert "\n" not in text and text.startswith(f"{path}: ")
    if field:
        assert text.startswith(f"{path}: {field}: ")


def test_missing_file_is_a_preset_error(tmp_path):
    with pytest.raises(PresetError, match="no such file"):
        load_preset(tmp_path / "absent.toml")


# --------------------------------------------------------------------------- schema


def test_committed_schema_does_not_drift():
    committed = PRESETS_DIR / "preset.schema.json"
    assert json.loads(committed.read_text()) == json_schema(), (
        "presets/preset.schema.json is stale: run "
        "`tuitrain presets schema > presets/preset.schema.json`")
    assert committed.read_text() == schema_text()


def test_schema_forbids_unknown_keys_and_requires_sections():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "model", "optimizer", "train"} <= set(schema["required"])
    assert schema["properties"]["train"]["description"]  # field docstrings reach editors


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_presets_satisfy_the_json_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(read_toml(path), json_schema())


# --------------------------------------------------------------------------- discovery


def test_shipped_dir_is_the_repo_presets_in_a_checkout():
    assert shipped_presets_dir().resolve() == PRESETS_DIR.resolve()


def test_list_presets_from_the_repo_has_no_duplicates(monkeypatch):
    monkeypatch.chdir(REPO)  # ./presets is the shipped folder here, not a user's
    entries = list_presets()
    assert sorted(e.path.name for e in entries) == sorted(p.name for p in SHIPPED)
    assert all(e.origin == "shipped" and e.ok for e in entries)


def test_user_presets_add_to_shipped_ones_and_bad_ones_are_listed(tmp_path, monkeypatch):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "mine.toml").write_text(MINIMAL)
    (tmp_path / "presets" / "broken.toml").write_text("name = \n")
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "quickstart.toml").write_text(MINIMAL.replace('"mine"', '"quickstart"'))
    monkeypatch.chdir(tmp_path)
    entries = {(e.name, e.origin): e for e in list_presets([extra])}
    assert entries[("mine", "user")].description == "a user's own preset"
    assert "TOML syntax error" in entries[("broken", "user")].error
    assert ("r13_adam", "shipped") in entries
    # The user's quickstart shadows the shipped one; a path still reaches any file.
    assert resolve_preset("quickstart", [extra]) == extra / "quickstart.toml"
    assert resolve_preset("mine") == Path("presets/mine.toml").absolute()


def test_resolve_by_name_stem_chapter_and_path():
    assert resolve_preset("r13_adam") == PRESETS_DIR / "r13_adam.toml"
    assert resolve_preset("R13") == PRESETS_DIR / "r13_adam.toml"
    assert resolve_preset("r27mc") == PRESETS_DIR / "r27mc_mc_dropout.toml"
    assert resolve_preset(str(PRESETS_DIR / "r01_selu_deep.toml")) == PRESETS_DIR / "r01_selu_deep.toml"


@pytest.mark.parametrize("name, message", [
    ("r13_adma", "did you mean 'r13_adam'"),
    ("nothing_like_it", "tuitrain presets list"),
    ("X8", "several presets reproduce X8"),
    ("missing/file.toml", "no such file"),
])
def test_resolve_errors_help(name, message):
    with pytest.raises(PresetError, match=re.escape(message)):
        resolve_preset(name)


def test_field_errors_names_every_bad_field_as_written():
    data = load_preset(PRESETS_DIR / "quickstart.toml").model_dump(mode="json")
    assert field_errors(data) == {}
    data["train"]["epochs"] = 0
    data["train"]["batchsize"] = 32
    data["model"]["layers"][0]["units"] = "many"
    errors = field_errors(data)
    assert errors["train.batchsize"] == "unknown key"
    assert "greater than" in errors["train.epochs"] and "(got 0)" in errors["train.epochs"]
    assert any(k.startswith("model.layers[0]") and "units" in k for k in errors), errors
