"""The training engine with tiny real Keras models on the embedded Fashion-MNIST subset."""

from __future__ import annotations

import math
import sys
import threading

import numpy as np
import pytest

from conftest import tiny_preset
from tuitrain.engine.control import Control
from tuitrain.engine.events import (
    CORE_COLUMNS, Alert, ControlApplied, EpochEnd, GradStats, RunEnded, RunStarted, Step,
)
from tuitrain.engine.trainer import Trainer
from tuitrain.gil import SWITCH_INTERVAL_S
from tuitrain.runlog.reader import RunLog


def run(preset, logs_dir, on_event=None, **kw):
    """Train to the end in this thread; return (events, trainer, end)."""
    events = []
    control = kw.pop("control", None) or Control()

    def sink(ev):
        events.append(ev)
        if on_event:
            on_event(ev, control)

    tr = Trainer(preset, sink=sink, control=control, logs_dir=logs_dir, **kw)
    end = tr.run()
    return events, tr, end


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


def test_loss_decreases_and_stats_cover_every_layer_in_order(logs_dir):
    p = tiny_preset(optimizer={"name": "adam", "learning_rate": 0.003}, train__epochs=4)
    events, tr, end = run(p, logs_dir)
    assert end.status == "finished"
    epochs = of(events, EpochEnd)
    assert len(epochs) == 4
    assert epochs[-1].metrics["loss"] < epochs[0].metrics["loss"]
    assert epochs[-1].metrics["val_accuracy"] > 0.3
    started = of(events, RunStarted)[0]
    assert started.layers == ["dense_1", "dense_2", "output"]
    stats = of(events, GradStats)
    assert len(stats) == len(of(events, Step))  # stats.every = 1
    row = [s for s in stats if not s.core_only][-1]   # every column measured
    assert len(row.values) == 3 and len(row.values[0]) == len(row.columns)
    norm, wnorm, ratio = (row.columns.index(c) for c in ("norm", "weight_norm", "update_ratio"))
    assert all(v[norm] > 0 and v[wnorm] > 0 and 0 < v[ratio] < 1 for v in row.values)
    assert row.frozen == [False, False, False]


def test_stats_every_n_steps_only(logs_dir):
    events, _, _ = run(tiny_preset(stats={"every": 4}, train__epochs=1), logs_dir)
    steps = [s.step for s in of(events, GradStats)]
    assert steps == [1, 5, 9]   # measured on steps 0, 4, 8 (0-based), reported after them


def test_costlier_statistics_every_full_every_steps(logs_dir):
    """stats.every = 1, full_every = 4: every step has the gradient's norm, mean, std,
    zeros and non-finite count; steps 0, 4, 8 (0-based) also the largest |g|, the weight
    norm, the update ratio and the activations; the others leave them unmeasured."""
    p = tiny_preset(stats={"every": 1, "full_every": 4}, train__epochs=1)
    events, _, _ = run(p, logs_dir)
    stats = of(events, GradStats)
    assert len(stats) == len(of(events, Step)) >= 10
    assert [s.step for s in stats if not s.core_only] == list(range(1, len(stats) + 1, 4))
    cols = stats[0].columns
    core = [cols.index(c) for c in CORE_COLUMNS]
    rest = [i for i in range(len(cols)) if i not in core]
    for s in stats:
        for row in s.values:
            assert all(row[i] is not None for i in core), s.step
            assert all((row[i] is None) == s.core_only for i in rest), s.step
    # The log keeps which steps were core-only; review shows the last costlier figures
    # taken, as the live view does.
    log = RunLog.load(_run_dir(logs_dir))
    assert [e.core_only for e in log.grad_events()] == [s.core_only for s in stats]
    ratio = cols.index("update_ratio")
    first = [r[ratio] for r in stats[0].values]
    gs = log.grad_series()
    assert np.isfinite(gs.values[:, :, ratio]).all()
    np.testing.assert_allclose(gs.values[2][:, ratio], first, rtol=1e-6)
    at = log.grad_at(stats[2].step)
    assert at.core_only and at.step == stats[2].step
    np.testing.assert_allclose([r[ratio] for r in at.values], first, rtol=1e-6)
    full_steps = {s.step for s in stats if not s.core_only}
    assert set(log.grad_series(2).steps.tolist()) <= full_steps   # decimated: full samples


def test_a_run_shortens_the_gil_switch_interval_and_restores_it(logs_dir):
    """While training, another busy Python thread (a redraw, the log writer) must hand the
    GIL back within a millisecond, not the interpreter's default 5 ms."""
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL_S
    seen = set()
    events, _, end = run(tiny_preset(train__epochs=1), logs_dir,
                         on_event=lambda ev, c: seen.add(sys.getswitchinterval()))
    assert end.status == "finished"
    assert seen == {SWITCH_INTERVAL_S}
    assert sys.getswitchinterval() == before


def test_deep_sigmoid_net_has_vanishing_gradients_at_the_input(logs_dir):
    p = tiny_preset(model={"layers": [{"units": 32, "activation": "sigmoid", "repeat": 8}]},
                    train__epochs=1)
    events, _, _ = run(p, logs_dir)
    first = np.array([[np.nan if v is None else v for v in r] for r in of(events, GradStats)[0].values])
    norms = first[:, 0]
    assert norms[0] < norms[-2] / 10   # input side far smaller than the last hidden layer


def test_clipping_changed_mid_run_bounds_the_norm_from_the_next_step(logs_dir):
    def on_event(ev, control):
        if isinstance(ev, Step) and ev.step == 5:
            control.set_clip("global_norm", 0.05, source="test")

    p = tiny_preset(optimizer={"name": "sgd", "learning_rate": 0.05}, train__epochs=1)
    events, _, _ = run(p, logs_dir, on_event)
    applied = [e for e in of(events, ControlApplied) if e.command == "set_clip"]
    assert applied[0].step == 5 and applied[0].args["threshold"] == 0.05
    before = [s for s in of(events, Step) if s.step <= 5]
    after = [s for s in of(events, Step) if s.step > 5]
    assert all(s.clip_mode == "off" for s in before)
    assert all(s.clip_mode == "global_norm" and s.clipped for s in after)
    # Applied (post-clip) norm = sum of per-layer norms squared, from the statistics.
    for gs in of(events, GradStats):
        applied_norm = math.sqrt(sum(r[0] ** 2 for r in gs.values))
        if gs.step > 5:
            assert applied_norm <= 0.05 * 1.001
        else:
            assert applied_norm > 0.05
    log = RunLog.load(events[0] and _run_dir(logs_dir))
    assert any(c.command == "set_clip" for c in log.controls)


def _run_dir(logs_dir):
    (folder,) = [p for p in logs_dir.iterdir() if p.is_dir()]
    return folder


def test_schedule_swapped_mid_run_continues_from_the_current_lr(logs_dir):
    def on_event(ev, control):
        if isinstance(ev, Step) and ev.step == 6:
            control.set_schedule({"kind": "exponential", "decay_steps": 2, "decay_rate": 0.5})

    p = tiny_preset(train__epochs=2)   # constant lr 0.01
    events, _, _ = run(p, logs_dir, on_event)
    lrs = {s.step: s.lr for s in of(events, Step)}
    assert lrs[6] == pytest.approx(0.01)
    assert lrs[7] == pytest.approx(0.01)          # no jump: continues from the current lr
    assert lrs[9] == pytest.approx(0.01 * 0.5)     # then decays by the new shape
    assert lrs[11] == pytest.approx(0.01 * 0.25)


def test_lr_nudges_rescale_the_schedule(logs_dir):
    def on_event(ev, control):
        if isinstance(ev, Step) and ev.step == 3:
            control.scale_lr(2.0)

    events, _, _ = run(tiny_preset(train__epochs=1), logs_dir, on_event)
    lrs = {s.step: s.lr for s in of(events, Step)}
    assert lrs[3] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.02)


def test_pause_stops_the_step_counter_and_resume_continues(logs_dir):
    """Pause from another thread; while paused, a command is applied at the same step."""
    control = Control()
    paused = threading.Event()
    events: list = []

    def sink(ev):
        events.append(ev)
        if isinstance(ev, Step) and ev.step == 4:
            control.pause(source="test")
        if isinstance(ev, ControlApplied) and ev.command == "pause":
            paused.set()

    tr = Trainer(tiny_preset(train__epochs=1), sink=sink, control=control, logs_dir=logs_dir)
    worker = threading.Thread(target=tr.run)
    worker.start()
    assert paused.wait(60)
    assert tr.paused and tr.step == 4
    control.set_lr(0.02, source="test")       # handled while paused
    control.resume(source="test")
    worker.join(60)
    assert not worker.is_alive()
    ctl = [(e.command, e.step) for e in of(events, ControlApplied)]
    assert ctl == [("pause", 4), ("set_lr", 4), ("resume", 4)]
    steps = [s.step for s in of(events, Step)]
    assert steps == list(range(1, 11))        # no step lost, none repeated
    assert of(events, Step)[4].lr == pytest.approx(0.02)


def test_stop_ends_the_run_with_status_stopped(logs_dir):
    def on_event(ev, control):
        if isinstance(ev, Step) and ev.step == 3:
            control.stop(source="test")

    events, tr, end = run(tiny_preset(train__epochs=5), logs_dir, on_event)
    assert end.status == "stopped" and end.step == 3
    assert RunLog.load(tr.run_dir).ended.status == "stopped"


def test_huge_learning_rate_raises_the_nonfinite_alert_with_a_layer(logs_dir):
    p = tiny_preset(optimizer={"name": "sgd", "learning_rate": 100.0},
                    model={"layers": [{"units": 16, "activation": "linear", "repeat": 2}]},
                    data__normalization="none")
    events, tr, end = run(p, logs_dir, headless=True)
    alerts = of(events, Alert)
    assert alerts and alerts[0].level == "error"
    assert alerts[0].layer == "dense_1"      # the input side blows up first
    assert "non-finite" in alerts[0].message and "dense_1" in alerts[0].message
    assert end.status == "stopped" and "non-finite" in end.reason


def test_failure_is_logged_and_raised(logs_dir):
    p = tiny_preset(model={"transfer": {"source": str(logs_dir / "missing.keras"),
                                        "freeze_epochs": 1},
                           "layers": [], "output": {"units": 10}})
    tr = Trainer(p, logs_dir=logs_dir)
    with pytest.raises(Exception):
        tr.run()
    log = RunLog.load(tr.run_dir)
    assert log.ended.status == "failed" and log.ended.reason


def test_transfer_runs_both_phases_in_one_run(logs_dir):
    a = tiny_preset(name="tiny_a", data__task="transfer_a", model__output={"units": 8},
                    train__epochs=1)
    _, tr_a, _ = run(a, logs_dir)
    b = tiny_preset(name="tiny_b", data__task="transfer_b",
                    model={"layers": [], "output": {"units": 1, "activation": "sigmoid"},
                           "transfer": {"source": "tiny_a", "freeze_epochs": 1}},
                    train__epochs=2)
    events, tr_b, end = run(b, logs_dir)
    assert end.status == "finished"
    stats = of(events, GradStats)
    first, last = stats[0], stats[-1]
    assert first.frozen == [True, True, False]
    assert last.frozen == [False, False, False]
    assert first.values[0][0] is None          # frozen: no gradient, not a zero
    assert [e.command for e in of(events, ControlApplied)] == ["unfreeze"]
    assert len(of(events, RunEnded)) == 1


def test_commands_from_the_run_folder_channel_steer_the_run(logs_dir):
    """Another process steers through control.jsonl; here a RemoteControl in this one."""
    from tuitrain.runlog.channel import RemoteControl

    control = Control()
    paused = threading.Event()
    events: list = []
    holder = {}

    def sink(ev):
        events.append(ev)
        if isinstance(ev, Step) and ev.step == 2:
            RemoteControl(holder["tr"].run_dir, source="viewer:test").pause()
        if isinstance(ev, ControlApplied) and ev.command == "pause":
            paused.set()

    tr = holder["tr"] = Trainer(tiny_preset(train__epochs=50), sink=sink, control=control,
                                logs_dir=logs_dir)
    worker = threading.Thread(target=tr.run)
    worker.start()
    assert paused.wait(60)
    remote = RemoteControl(tr.run_dir, source="viewer:other")
    remote.set_clip("norm", 2.0)
    remote.stop()
    worker.join(60)
    assert not worker.is_alive()
    ctl = [(e.command, e.source) for e in of(events, ControlApplied)]
    assert ctl == [("pause", "viewer:test"), ("set_clip", "viewer:other"),
                   ("stop", "viewer:other")]
    assert of(events, RunEnded)[0].status == "stopped"


def test_activation_statistics_follow_the_preset(logs_dir):
    on, _, _ = run(tiny_preset(train__epochs=1), logs_dir)
    off, _, _ = run(tiny_preset(train__epochs=1, stats={"every": 1, "activations": False}),
                    logs_dir)
    cols = list(of(on, GradStats)[0].columns)
    a = cols.index("act_std")
    full = [e for e in of(on, GradStats) if not e.core_only]
    assert all(r[a] is not None and r[a] > 0 for r in full[-1].values)
    assert all(r[a] is None for r in of(off, GradStats)[0].values)
