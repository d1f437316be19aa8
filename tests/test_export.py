"""Export of a real run: CSV rows and TensorBoard event files against the run log."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny_preset
from tuitrain.runlog import RunLog
from tuitrain.runlog.export import CSV_COLUMNS, export_csv, export_tensorboard

ENV = {**os.environ, "TUITRAIN_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(logs dir, run folder, RunLog) of one real 2-epoch run with stats every 2 steps."""
    from tuitrain.engine.trainer import Trainer

    logs = tmp_path_factory.mktemp("export") / "logs"
    trainer = Trainer(tiny_preset(train__epochs=2, stats={"every": 2}), logs_dir=logs)
    assert trainer.run().status == "finished"
    return logs, trainer.run_dir, RunLog.load(trainer.run_dir)


def _f(cell: str) -> float:
    return math.nan if cell == "" else float(cell)


def test_csv_has_every_step_and_epoch_with_the_logs_values(run):
    _, folder, log = run
    out = export_csv(folder)
    assert out == folder / "export.csv"
    with open(out, newline="") as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == CSV_COLUMNS
        rows = [dict(zip(CSV_COLUMNS, r)) for r in reader]
    steps = [r for r in rows if r["kind"] == "step"]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert len(steps) + len(epochs) == len(rows)
    s = log.steps
    assert len(steps) == len(s["step"]) == 20
    assert [int(r["step"]) for r in steps] == s["step"].tolist()
    assert [int(r["epoch"]) for r in steps] == s["epoch"].tolist()
    for name in ("loss", "lr", "clip_threshold", "samples_per_s"):
        assert [float(r[name]) for r in steps] == s[name].tolist(), name
    assert [float(r["time"]) for r in steps] == s["t"].tolist()
    assert [bool(int(r["clipped"])) for r in steps] == s["clipped"].tolist()
    # grad_norm is measured only at gradient-stats steps: empty elsewhere, exact where set.
    got = np.array([_f(r["grad_norm"]) for r in steps])
    np.testing.assert_array_equal(got, s["grad_norm"])
    assert 0 < np.isfinite(got).sum() < len(got)
    assert all(r["val_loss"] == r["val_accuracy"] == "" for r in steps)

    assert len(epochs) == len(log.epochs) == 2
    for r, e in zip(epochs, log.epochs):
        assert (int(r["step"]), int(r["epoch"])) == (e.step, e.epoch)
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(r[name]) == e.metrics[name], name
        assert r["grad_norm"] == r["clipped"] == r["samples_per_s"] == ""
        # The epoch row comes right after the row of the epoch's last step.
        i = rows.index(r)
        assert rows[i - 1]["kind"] == "step" and int(rows[i - 1]["step"]) == e.step


def test_csv_out_path(run, tmp_path):
    _, folder, log = run
    out = export_csv(folder, tmp_path / "sub" / "run.csv")
    assert out == tmp_path / "sub" / "run.csv"
    with open(out, newline="") as f:
        assert sum(1 for _ in f) == 1 + len(log.steps["step"]) + len(log.epochs)


def _load_tensorboard(path):
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return {tag: ([e.step for e in acc.Tensors(tag)],
                  [tf.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)])
            for tag in acc.Tags()["tensors"]}


def test_tensorboard_loads_with_event_accumulator(run):
    _, folder, log = run
    out = export_tensorboard(folder)
    assert out == folder / "tensorboard"
    export_tensorboard(folder)  # a second export replaces the first, it does not add to it
    tags = _load_tensorboard(out)
    s = log.steps

    steps, values = tags["train/loss"]
    assert steps == s["step"].tolist()
    np.testing.assert_array_equal(np.array(values), s["loss"].astype(np.float32))
    assert tags["train/lr"][0] == s["step"].tolist()
    finite = np.isfinite(s["grad_norm"])
    assert tags["train/grad_norm"][0] == s["step"][finite].tolist()
    np.testing.assert_array_equal(np.array(tags["train/grad_norm"][1]),
                                  s["grad_norm"][finite].astype(np.float32))

    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        steps, values = tags[f"epoch/{name}"]
        assert steps == [e.step for e in log.epochs], name
        assert [float(v) for v in values] == [np.float32(e.metrics[name]) for e in log.epochs]

    series = log.grad_series()
    norm = series.columns.index("norm")
    assert len(log.layers) == 3 and len(log.grad_steps) == 10
    for j, layer in enumerate(log.layers):
        steps, values = tags[f"grad_norm/{layer}"]
        assert steps == log.grad_steps.tolist(), layer
        np.testing.assert_array_equal(np.array(values), series.values[:, j, norm])

    (text,) = tags["preset"][1]
    assert b'name = "tiny"' in text.item()


def test_cli_export_csv_prints_the_path(run, tmp_path):
    logs, folder, log = run
    out = tmp_path / "cli.csv"
    proc = subprocess.run([sys.executable, "-m", "tuitrain", "export", folder.name,
                           "--format", "csv", "--out", str(out), "--logs-dir", str(logs)],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    with open(out, newline="") as f:
        kinds = [r["kind"] for r in csv.DictReader(f)]
    assert kinds.count("step") == len(log.steps["step"])
    assert kinds.count("epoch") == len(log.epochs)


def test_cli_export_unknown_run_is_a_one_line_error(run):
    logs, _, _ = run
    proc = subprocess.run([sys.executable, "-m", "tuitrain", "export", "no-such-run",
                           "--format", "tensorboard", "--logs-dir", str(logs)],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no-such-run" in proc.stderr and "Traceback" not in proc.stderr


def test_module_imports_without_tensorflow():
    code = ("import sys, tuitrain.runlog.export; "
            "print('tensorflow' in sys.modules, 'textual' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
