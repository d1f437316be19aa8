"""Review and compare of saved runs: the replay into a RunState, the review cursor, the
compare screen's legend and preset diff, and opening them from Home.

The runs are real: two tiny Keras runs (SGD and Adam) made once for the module; the
synthetic logs (long runs, a crash) are written through the real RunWriter.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_preset
from textual.widgets._footer import FooterKey

from tuitrain.engine.control import Control
from tuitrain.engine.events import CORE_COLUMNS, STAT_COLUMNS, EpochEnd, GradStats, RunStarted, Step
from tuitrain.runlog import PID_FILE, RunLog, RunWriter
from tuitrain.ui.presetdiff import MISSING, flatten, preset_diff
from tuitrain.ui.replay import replay
from tuitrain.ui.runstate import RunState
from tuitrain.ui.screens.compare import CompareScreen
from tuitrain.ui.screens.review import ReviewScreen
from tuitrain.ui.viewers import make_review_app
from tuitrain.ui.widgets.header import RunHeader
from tuitrain.ui.widgets.gradcompare import GradCompare
from tuitrain.ui.widgets.heatmap import GradHeatmap, shared_range
from tuitrain.ui.widgets.layertable import COLUMNS, LayerTable, fmt
from tuitrain.ui.widgets.overlay import OverlayPlot


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two real tiny runs that differ in their optimizer; Adam's also gets an lr control."""
    from tuitrain.engine.trainer import Trainer

    logs = tmp_path_factory.mktemp("review") / "logs"
    Trainer(tiny_preset(name="tiny-sgd", train__epochs=2, stats={"every": 2}), logs_dir=logs).run()
    control = Control()
    control.scale_lr(0.5, source="test")     # applied before the first step
    adam = tiny_preset(name="tiny-adam", train__epochs=2, stats={"every": 2},
                       optimizer={"name": "adam", "learning_rate": 0.002})
    Trainer(adam, control=control, logs_dir=logs).run()
    sgd_dir, adam_dir = (next(logs.glob(f"*_{n}")) for n in ("tiny-sgd", "tiny-adam"))
    return logs, sgd_dir, adam_dir


def same_points(a, b) -> bool:
    (ax, ay), (bx, by) = a.points(), b.points()
    return ax == bx and np.allclose(np.asarray(ay, float), np.asarray(by, float), equal_nan=True)


def test_replay_equals_applying_every_event(runs):
    _, sgd_dir, adam_dir = runs
    for folder in (sgd_dir, adam_dir):
        log = RunLog.load(folder)
        fast, slow = replay(log), RunState()
        slow.apply_all(log.events)
        for name in ("loss_s", "acc_s", "lr_s", "clip_s", "gnorm_s"):
            assert same_points(getattr(fast, name), getattr(slow, name)), name
        gx, gy = fast.grads.points()
        assert gx == slow.grads.points()[0] and len(gx) == len(log.grad_steps)
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(gy, slow.grads.points()[1]))
        for attr in ("state", "step", "epoch", "lr", "clip_mode", "grad_step", "epoch_metrics"):
            assert getattr(fast, attr) == getattr(slow, attr), attr
        assert list(fast.markers) == list(slow.markers)
        assert [line.text for line in fast.log] == [line.text for line in slow.log]


def test_core_only_samples_show_the_last_costlier_figures(runs):
    """stats.every 2 with the default full_every 10: one sample in five has the update
    ratio (and the other costlier figures); the views hold the last one taken, so the
    update-ratio heatmap has no holes, live and in review alike."""
    _, sgd_dir, _ = runs
    log = RunLog.load(sgd_dir)
    flags = [e.core_only for e in log.grad_events()]
    assert flags[:6] == [False, True, True, True, True, False]
    ratio = STAT_COLUMNS.index("update_ratio")
    live = RunState()
    live.apply_all(log.events)
    for st in (live, replay(log)):
        _, samples = st.grads.points()
        assert len(samples) == len(flags)
        assert np.isfinite(np.stack([s[:, ratio] for s in samples])).all()
        np.testing.assert_array_equal(samples[3][:, ratio], samples[0][:, ratio])
        assert not np.array_equal(samples[5][:, ratio], samples[0][:, ratio])
        assert st.grad_latest_core == flags[-1]   # the table dims what is carried
        last_full = [int(t) for t, f in zip(log.grad_steps, flags) if not f][-1]
        assert st.grad_full_step == last_full     # and names the step it is from


def synthetic_run(logs, steps: int, layers: int = 3, every: int = 10, close: bool = True):
    """A run log written through RunWriter with the engine's event types."""
    names = [f"dense_{i}" for i in range(layers)]
    w = RunWriter(logs, {"name": "synthetic", "train": {"epochs": 4}}, "synthetic")
    w.emit(RunStarted(run_id=w.name, preset={"name": "synthetic"}, layers=names, layer_info=[],
                      total_params=1, trainable_params=1, device="CPU", strategy="default",
                      steps_per_epoch=steps // 4, epochs=4, train_samples=steps * 8,
                      val_samples=100, data_source="synthetic"))
    rng = np.random.default_rng(0)
    for s in range(1, steps + 1):
        w.emit(Step(step=s, epoch=(s - 1) // (steps // 4), loss=float(2 / math.sqrt(s) + rng.random() * 0.1),
                    accuracy=float(rng.random()), lr=0.01 * 0.5 ** (s // 1000), clip_mode="off",
                    clip_threshold=1.0, grad_norm=float(rng.random()), clipped=False,
                    samples_per_s=1000.0))
        if s % every == 0:
            vals = rng.random((layers, len(STAT_COLUMNS))).tolist()
            w.emit(GradStats(step=s, epoch=0, columns=list(STAT_COLUMNS), values=vals,
                             frozen=[False] * layers))
        if s % (steps // 4) == 0:
            w.emit(EpochEnd(epoch=s // (steps // 4) - 1, step=s, metrics={"loss": 1.0, "val_loss": 1.1},
                            lr=0.01, duration_s=1.0))
    w.flush()
    if close:
        w.close()
    return w


def test_replay_of_a_long_log_is_bounded_and_matches(tmp_path):
    w = synthetic_run(tmp_path, steps=6000, every=5)
    log = RunLog.load(w.folder)
    fast, slow = replay(log), RunState()
    slow.apply_all(log.events)
    for name in ("loss_s", "acc_s", "lr_s", "gnorm_s"):
        f, s = getattr(fast, name), getattr(slow, name)
        assert f.stride == s.stride > 1 and len(f) < f.capacity
        assert same_points(f, s), name
    assert len(fast.grads) <= fast.grads.capacity and fast.grads.count == 1200
    assert fast.grad_step == 6000 and np.array_equal(fast.grad_latest, slow.grad_latest)
    # Following on (attach) keeps appending at the same resolution.
    fast.apply(Step(step=6001, epoch=3, loss=0.1, accuracy=0.5, lr=0.01, clip_mode="off",
                    clip_threshold=1.0, grad_norm=1.0, clipped=False, samples_per_s=1.0))
    assert fast.loss_s.last()[0] == 6001


async def test_review_cursor_moves_the_layer_table(runs):
    _, sgd_dir, _ = runs
    log = RunLog.load(sgd_dir)
    steps = log.grad_steps
    assert len(steps) >= 5
    app = make_review_app([sgd_dir])
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await pilot.pause()
        table = screen.query_one(LayerTable)
        assert table.shown_step == steps[-1]            # the cursor starts at the end

        def assert_table_is(step: int) -> None:
            expected = log.grad_at(step)
            assert table.shown_step == expected.step == step
            assert f"step {step:,}" in str(table.border_title)
            assert table.row_count == len(log.layers)
            for i, row in enumerate(expected.values):
                cells = table.get_row_at(i)
                assert cells[0].plain.startswith(log.layers[i])
                for k, (col, _) in enumerate(COLUMNS, start=1):
                    v = row[STAT_COLUMNS.index(col)]
                    want = fmt(math.nan if v is None else float(np.float32(v)), col).plain
                    assert cells[k].plain == want, (step, i, col)
                    # The costlier figures of a core-only sample come from an earlier one.
                    if v is not None:
                        dim = "dim" in str(cells[k].style).split()
                        assert dim == (expected.core_only and col not in CORE_COLUMNS), (step, col)
            assert table.carried == expected.core_only
            # The title names the full sample the dimmed figures were taken at.
            full = max(int(t) for t in steps if t <= step and not log.grad_at(int(t)).core_only)
            assert (f"dim: from step {full:,}" in str(table.border_title)) == expected.core_only
            assert table.carried_from == (full if expected.core_only else None)

        await pilot.press("left", "left", "left")
        assert_table_is(int(steps[-4]))
        await pilot.press("left_square_bracket")
        jumped = int(steps[-4 - max(1, len(steps) // 10)])
        assert_table_is(jumped)
        await pilot.press("home")
        assert_table_is(int(steps[0]))
        assert not log.grad_at(int(steps[0])).core_only
        await pilot.press("right")
        assert_table_is(int(steps[1]))
        assert table.carried                             # stats.every 2, full_every 10
        assert "sample 2/" in str(screen.query_one("#scrubber").render())
        await pilot.press("end")
        assert_table_is(int(steps[-1]))

        # Read-only: no steering action applies, and p writes no command anywhere.
        for action in ("pause", "resume", "clip", "schedule", "lr_up", "lr_down", "checkpoint", "stop"):
            assert not screen.check_action(action, ())
        await pilot.press("p", "x", "plus")
        assert not (sgd_dir / "control.jsonl").exists()
        keys = {b.key for _, b, _, _ in screen.active_bindings.values() if b.show}
        assert {"left", "right", "home", "end", "g", "q"} <= keys and "p" not in keys
        header = str(screen.query_one(RunHeader).render())
        assert "FINISHED" in header


async def test_review_shows_running_and_crashed_runs(tmp_path):
    w = synthetic_run(tmp_path, steps=400, close=False)
    try:
        assert RunLog.load(w.folder).status == "running"
        app = make_review_app([w.folder])
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            assert app.screen.state.state == "running"
            assert "RUNNING" in str(app.screen.query_one(RunHeader).render())
            assert app.screen.check_action("attach", ())
        # The process that wrote the pid file is gone: a crash.
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        (w.folder / PID_FILE).write_text(f"{dead.pid}\n")
        assert RunLog.load(w.folder).status == "crashed"
        app = make_review_app([w.folder])
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            assert app.screen.state.state == "crashed"
            assert "CRASHED" in str(app.screen.query_one(RunHeader).render())
            assert not app.screen.check_action("attach", ())
    finally:
        w.close()


def test_preset_diff_flattens_and_keeps_only_differences():
    a = {"name": "a", "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
         "model": {"layers": [{"units": 16, "activation": "relu"}], "input_shape": [28, 28]},
         "train": {"epochs": 2}}
    b = {"name": "b", "optimizer": {"name": "adam", "learning_rate": 0.01},
         "model": {"layers": [{"units": 16, "activation": "selu"}], "input_shape": [28, 28]},
         "train": {"epochs": 2.0}}
    assert flatten(a)["model.layers[0].units"] == 16 and flatten(a)["model.input_shape"] == [28, 28]
    diff, equal = preset_diff([a, b])
    got = {d.path: d.values for d in diff}
    assert got == {"name": ("a", "b"), "optimizer.name": ("sgd", "adam"),
                   "optimizer.momentum": (0.9, MISSING),
                   "model.layers[0].activation": ("relu", "selu")}
    assert [d.path for d in diff][-1] == "name"     # naming fields after the real changes
    assert equal == 4    # learning_rate, units, input_shape, epochs (2 == 2.0)


async def test_compare_overlays_runs_and_diffs_their_presets(runs):
    _, sgd_dir, adam_dir = runs
    app = make_review_app([sgd_dir, adam_dir])
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.pause()
        legend = str(screen.query_one("#cmp-legend").render())
        assert "tiny-sgd" in legend and "tiny-adam" in legend
        for plot in screen.query(OverlayPlot):
            assert [name for name, _ in plot.runs] == ["tiny-sgd", "tiny-adam"]
            assert all(len(st.loss_s) for _, st in plot.runs)
        diff = screen.query_one("#cmp-diff")
        assert [str(c.label) for c in diff.columns.values()] == ["field", "tiny-sgd", "tiny-adam"]
        fields = [diff.get_row_at(i)[0].plain for i in range(diff.row_count)]
        assert {"optimizer.name", "optimizer.learning_rate", "name"} <= set(fields)
        for same in ("train.epochs", "train.batch_size", "model.layers[0].units", "data.limit"):
            assert same not in fields
        row = diff.get_row_at(fields.index("optimizer.name"))
        assert [c.plain for c in row[1:]] == ["sgd", "adam"]
        controls = screen.query_one("#cmp-controls")
        rows = [[getattr(c, "plain", str(c)) for c in controls.get_row_at(i)]
                for i in range(controls.row_count)]
        assert ["tiny-sgd", "", "none", ""] in rows
        assert any(r[0] == "tiny-adam" and r[2] == "lr x 0.5" and r[3] == "test" for r in rows)
        await pilot.press("o")                         # the highlighted run, in review
        assert isinstance(app.screen, ReviewScreen) and app.screen.run_log.folder == sgd_dir
        await pilot.press("escape")
        assert app.screen is screen


async def test_compare_g_shows_each_runs_gradients_on_one_colour_scale(runs):
    _, sgd_dir, adam_dir = runs
    app = make_review_app([sgd_dir, adam_dir])
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.screen
        plots, grads = screen.query_one("#cmp-plots"), screen.query_one(GradCompare)
        await pilot.pause()
        assert plots.display and not grads.display and screen.grad_view is None
        assert "Grads" in [k.description for k in screen.query(FooterKey)]
        for view, words in enumerate(("gradient norm", "update / weight ratio", "activation std")):
            await pilot.press("g")
            await pilot.pause()
            assert screen.grad_view == view and grads.display and not plots.display
            heats = grads.heatmaps
            assert [h.border_title for h in heats] == [f"tiny-sgd · {words}", f"tiny-adam · {words}"]
            column = ("norm", "update_ratio", "act_std")[view]
            scale = shared_range(screen.states, column)
            for heat in heats:
                lines = [heat.render_line(y).text for y in range(heat.size.height)]
                assert lines[0].lstrip().startswith("in") and "1e" in lines[-1]
                assert heat.shown_range == scale     # one range for both panels
        await pilot.press("g")                          # after the last view: the curves
        await pilot.pause()
        assert screen.grad_view is None and plots.display and not grads.display


async def test_compare_fits_80x24_with_every_run_in_view(runs):
    _, sgd_dir, adam_dir = runs
    app = make_review_app([sgd_dir, adam_dir])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#cmp-runs")
        shown = " ".join(table.render_line(y).text for y in range(table.size.height))
        assert "tiny-sgd" in shown and "tiny-adam" in shown
        await pilot.press("g")
        await pilot.pause()
        for heat in app.screen.query_one(GradCompare).heatmaps:
            lines = [heat.render_line(y).text for y in range(heat.size.height)]
            assert heat.size.height >= 5 and lines[0].lstrip().startswith("in")
            assert heat.border_subtitle.startswith("shared scale")


async def test_compare_heatmaps_colour_one_value_alike_in_every_run():
    """Run A's gradients are 1e-3, run B's 10: each alone would fill its own colour range
    with the same colours; side by side, A is dark and B bright, and a layer of A at 10
    has B's colour."""
    from textual.app import App

    def state(norms):
        st = RunState()
        st.layers = [f"dense_{i}" for i in range(len(norms))]
        vals = [[n, 0, 0, n, 0, 0, 1, 1e-3, 0, 1] for n in norms]
        for step in range(4):
            st.apply(GradStats(step=step, epoch=0, columns=list(STAT_COLUMNS), values=vals,
                               frozen=[False] * len(norms)))
        return st

    a, b = state([1e-3] * 7 + [10.0]), state([10.0] * 8)

    class Two(App):
        def compose(self):
            yield GradCompare([("a", a), ("b", b)])

    def cells(heat, y):   # the colours of text row y, after the gutter
        return {seg.style.color for seg in list(heat.render_line(y))[1:] if seg.text.strip()}

    async with Two().run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        ha, hb = pilot.app.query(GradHeatmap)
        lo, hi = ha.shown_range
        assert ha.shown_range == hb.shown_range and lo <= -3 and hi >= 1
        assert cells(ha, 0) != cells(hb, 0)             # 1e-3 against 10
        last = ha.size.height - 2                        # the output row of A: 10
        assert cells(ha, last) == cells(hb, 0) == cells(hb, last)
        for heat in (ha, hb):                            # each run on its own range
            heat.scale = None
            heat.update_view()
        await pilot.pause()
        assert ha.shown_range != hb.shown_range


def test_pick_columns_maps_steps_onto_a_shared_axis():
    from tuitrain.ui.widgets.heatmap import pick_columns

    xs = list(range(0, 100, 10))                       # samples at steps 0..90
    assert pick_columns(xs, 5) == [0, 2, 4, 6, 8]      # the run's own axis: by index
    assert pick_columns(xs, 20) == list(range(10))     # fewer samples than columns
    # Steps 0..900 in 10 columns of 90 steps: the run ends in the second.
    assert pick_columns(xs, 10, span=900) == [0, 9] + [-1] * 8
    # Columns of 22.5 steps: the first sample in each.
    assert pick_columns(xs, 4, span=90) == [0, 3, 5, 7]
    # Columns of 2 steps: those without a sample repeat the one before.
    assert pick_columns(xs, 45, span=90)[:6] == [0, 0, 0, 0, 0, 1]


async def test_compare_heatmaps_put_runs_of_different_lengths_on_one_time_axis():
    """Run A has samples up to step 90, run B up to 900: side by side, A fills the first
    tenth of its panel and is blank after, B fills all of it."""
    from textual.app import App

    def state(last):
        st = RunState()
        st.layers = ["dense_0", "dense_1"]
        for step in range(0, last + 1, last // 9):
            st.apply(GradStats(step=step, epoch=0, columns=list(STAT_COLUMNS),
                               values=[[1.0, 0, 0, 1, 0, 0, 1, 1e-3, 0, 1]] * 2, frozen=[False] * 2))
        return st

    class Two(App):
        def compose(self):
            yield GradCompare([("a", state(90)), ("b", state(900))])

    async with Two().run_test(size=(120, 16)) as pilot:
        await pilot.pause()
        grads = pilot.app.query_one(GradCompare)
        assert grads.span == 900
        painted = []
        for heat in grads.heatmaps:
            cells = "".join("x" if seg.style.bgcolor else "." for seg in list(heat.render_line(0))[1:]
                            for _ in range(len(seg.text)))
            painted.append(cells.count("x") / len(cells))
            assert "steps 0-900" in heat.border_subtitle
        assert 0.05 < painted[0] < 0.2 and painted[1] == 1.0, painted


async def test_home_marks_runs_and_r_compares_them(runs):
    from tuitrain.ui.app import make_app
    from tuitrain.ui.screens.home import HomeScreen

    logs, _, _ = runs
    app = make_app(None, logs_dir=logs)
    async with app.run_test(size=(160, 48)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("tab")                       # to the run list
        await pilot.press("space", "space", "r")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert sorted(app.screen.run_labels) == ["tiny-adam", "tiny-sgd"]
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("enter")                     # one run: review
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
