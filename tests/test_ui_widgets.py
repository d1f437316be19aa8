"""The view model and the widgets: bounded series, RunState from events (live or from a
log), the heatmap on 100 layers in a 24-line terminal, NO_COLOR, the layer table."""

from __future__ import annotations

import functools
import json
import math
import time

import numpy as np
from conftest import tiny_dict

from tuitrain.engine.control import Control
from tuitrain.engine.events import STAT_COLUMNS, ControlApplied, GradStats, event_from_dict
from tuitrain.ui.app import make_app
from tuitrain.ui.runstate import RunState
from tuitrain.ui.scripted import ScriptedRun
from tuitrain.ui.series import Series
from tuitrain.ui.widgets.eventlog import EventLog
from tuitrain.ui.widgets.header import RunHeader
from tuitrain.ui.widgets.heatmap import GradHeatmap, grid
from tuitrain.ui.widgets.layertable import COLUMNS, LayerTable

DEEP = tiny_dict(train__epochs=1000, model={"layers": [{"units": 8, "activation": "relu", "repeat": 100}]})


async def until(pilot, cond, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        await pilot.pause(0.05)


def test_series_stays_bounded_over_a_million_points():
    s = Series(capacity=512)
    for i in range(1, 1_000_001):
        s.append(i, 1.0 if i <= 500_000 else 3.0)
    xs, ys = s.points()
    assert len(xs) <= 512 and s.count == 1_000_000
    assert xs == sorted(xs) and xs[-1] == 1_000_000
    assert ys[0] == 1.0 and ys[-1] == 3.0
    # Same resolution everywhere: the spacing of stored points is the stride.
    gaps = set(np.diff(s.xs).tolist())
    assert gaps == {float(s.stride)} or gaps == {s.stride}


def test_array_series_never_averages_away_a_nonfinite_value():
    s = Series(capacity=4, merge="array")
    for i in range(16):
        s.append(i, np.array([1.0, np.inf if i == 5 else 2.0], dtype=np.float32))
    xs, ys = s.points()
    assert len(xs) < 16
    assert any(np.isinf(y[1]) for y in ys)


def _scripted_events(tmp_path, steps_per_epoch=20, epochs=3, commands=()):
    events: list = []
    control = Control()
    for name, args in commands:
        control.send(name, source="ui", **args)
    run = ScriptedRun(tiny_dict(train__epochs=epochs), sink=events.append, control=control,
                      logs_dir=tmp_path, steps_per_epoch=steps_per_epoch, step_time=0)
    run.run()
    return events, run


def test_runstate_from_live_events_equals_runstate_from_the_log(tmp_path):
    events, run = _scripted_events(tmp_path, commands=[("set_clip", {"mode": "norm", "threshold": 0.5}),
                                                       ("scale_lr", {"factor": 2.0})])
    live, replay = RunState(), RunState()
    live.apply_all(events)
    lines = (run.run_dir / "events.jsonl").read_text().splitlines()
    replay.apply_all([event_from_dict(json.loads(line)) for line in lines])
    for st in (live, replay):
        assert st.state == "finished" and st.step == 60 and st.total_steps == 60
        assert [m.command for m in st.markers] == ["set_clip", "scale_lr"]
        assert st.clip_mode == "norm" and st.clip_threshold == 0.5
        assert len(st.epoch_metrics) == 3 and st.grad_latest.shape == (3, len(STAT_COLUMNS))
    assert live.loss_s.points() == replay.loss_s.points()
    assert [l.text for l in live.log] == [l.text for l in replay.log]


def test_batched_steps_give_the_same_state_as_one_event_at_a_time(tmp_path):
    # The dashboard applies its batches with apply_all, which takes runs of Step events
    # at once; small capacities make the series merge (stride > 1) along the way.
    events, _ = _scripted_events(tmp_path, steps_per_epoch=37, epochs=4,
                                 commands=[("set_clip", {"mode": "value", "threshold": 0.1})])
    one, batched = RunState(capacity=8), RunState(capacity=8)
    for e in events:
        one.apply(e)
    for i in range(0, len(events), 13):
        batched.apply_all(events[i:i + 13])
    assert batched.loss_s.stride > 1
    for name in ("loss_s", "acc_s", "lr_s", "clip_s", "gnorm_s"):
        a, b = getattr(one, name), getattr(batched, name)
        assert a.points() == b.points() and a.count == b.count == 148, name
    for attr in ("step", "epoch", "loss", "accuracy", "lr", "clip_mode", "clip_threshold",
                 "grad_norm", "samples_per_s", "state", "last_t"):
        assert getattr(one, attr) == getattr(batched, attr), attr


def test_series_extend_xy_equals_appending_one_by_one():
    rng = np.random.default_rng(0)
    for merge in ("mean", "last"):
        a, b = Series(capacity=16, merge=merge), Series(capacity=16, merge=merge)
        i = 0
        for n in rng.integers(0, 40, size=30).tolist():
            xs = list(range(i, i + n))
            ys = rng.normal(size=n).tolist()
            for x, y in zip(xs, ys):
                a.append(x, y)
            b.extend_xy(xs, ys)
            i += n
            assert a.points() == b.points() and a.stride == b.stride and a.count == b.count


def test_runstate_follows_the_journal_not_the_request():
    st = RunState()
    st.state = "running"
    st.pending = "pause"
    assert st.state == "running"
    st.apply(ControlApplied(step=7, command="pause", args={}, source="ui"))
    assert st.state == "paused" and st.pending is None
    st.apply(ControlApplied(step=7, command="resume", args={}, source="ui"))
    assert st.state == "running"


def test_heatmap_grid_groups_100_layers_and_keeps_vanishing_visible():
    layers = 100
    norms = np.array([1e-8 * 10 ** (7 * i / (layers - 1)) for i in range(layers)])  # input tiny
    sample = np.zeros((layers, len(STAT_COLUMNS)), dtype=np.float32)
    sample[:, 0] = norms
    sample[50, 0] = np.nan          # a missing value is not an alarm...
    sample[80, 0] = np.inf          # ...a non-finite gradient is
    g = grid([sample] * 5, 0, rows=22, cols=40)
    assert g.shape == (22, 5)
    assert g[0, 0] < -7 and g[-1, 0] > -2          # log10 scale, input to output
    assert np.all(np.diff(g[:15, 0]) > 0)
    assert np.isinf(g[int(80 * 22 / 100), 0])


def test_heatmap_grid_rows_average_their_layers_or_repeat_a_layer():
    """Rows group layers by ``int(r * L / rows)``: five layers in two rows average
    layers 0-1 and 2-4 (in log10, missing values left out); three layers in six rows
    repeat each layer twice; a non-finite value marks its whole row."""
    def sample(norms):
        x = np.zeros((len(norms), len(STAT_COLUMNS)))
        x[:, 0] = norms
        return x

    g = grid([sample([1e-2, 1e-4, 1e0, np.nan, 1e-6])], 0, rows=2, cols=1)
    assert np.allclose(g[:, 0], [-3.0, -3.0])
    g = grid([sample([1e-1, 1e-2, 1e-3])], 0, rows=6, cols=1)
    assert np.allclose(g[:, 0], [-1, -1, -2, -2, -3, -3])
    g = grid([sample([1e-1, np.inf, 1e-3, 1e-3]), sample([np.nan] * 4)], 0, rows=2, cols=2)
    assert np.isinf(g[0, 0]) and g[1, 0] == -3 and np.isnan(g[:, 1]).all()


def test_heatmap_grid_columns_average_their_samples_so_a_spike_shows():
    """100 samples in 10 columns: one sample's gradients explode (1e3 against 1), and in
    another one layer's is infinite. Each column averages its ten samples in log10, so
    the spike lifts its column by 0.3 of a decade and the inf marks its cell; picking one
    sample per column would have shown neither."""
    samples = [np.ones((4, len(STAT_COLUMNS))) for _ in range(100)]
    samples[37][:, 0] = 1e3
    samples[52][2, 0] = np.inf
    g = grid(samples, 0, rows=4, cols=10)
    assert g.shape == (4, 10)
    assert np.allclose(g[:, 3], 0.3)
    assert np.isinf(g[2, 5]) and np.isfinite(np.delete(g, [3, 5], axis=1)).all()
    assert (np.delete(g, [3, 5], axis=1) == 0).all()


async def test_heatmap_renders_100_layers_in_a_24_line_terminal(tmp_path):
    app = make_app(DEEP, logs_dir=tmp_path,
                   run_source=functools.partial(ScriptedRun, step_time=0.002))
    async with app.run_test(size=(80, 24)) as pilot:
        dash = app.screen
        heat = dash.query_one(GradHeatmap)
        # The heatmap repaints at most every 2 s: wait until it shows the samples.
        await until(pilot, lambda: len(dash.state.grads) >= 5
                    and heat.render_line(0).text.lstrip().startswith("in"))
        assert len(dash.state.layers) == 101
        assert 3 <= heat.size.height < 24 and heat.region.bottom <= 24
        lines = [heat.render_line(y) for y in range(heat.size.height)]
        text = [strip.text for strip in lines]
        assert text[0].lstrip().startswith("in") and text[-2].lstrip().startswith("out")
        assert "1e" in text[-1]                                   # the colour legend
        top = {seg.style.color for seg in list(lines[0])[1:] if seg.style and seg.style.color}
        bottom = {seg.style.bgcolor for seg in list(lines[-2])[1:] if seg.style and seg.style.bgcolor}
        assert top and bottom and not (top & bottom), "input and output rows look the same"
        header = dash.query_one(RunHeader)
        assert all(len(line) <= 80 for line in header.render().plain.splitlines())
        painted = [header.render_line(y) for y in (0, 1)]
        assert "RUNNING" in painted[0].text and "lr " in painted[1].text
        assert {strip.cell_length for strip in painted} == {header.size.width}
        before = heat.border_title
        await pilot.press("g")
        assert heat.border_title != before and "update" in heat.border_title
        await pilot.press("t")                  # narrow: the table replaces the heatmap
        await pilot.pause()
        assert dash.query_one(LayerTable).display and not heat.display
        app.save_screenshot(str(tmp_path / "small.svg"))
        dash.control.stop()
        await app.workers.wait_for_complete()
    assert (tmp_path / "small.svg").read_text().startswith("<svg")


async def test_live_core_only_samples_carry_the_costlier_figures_dimmed(tmp_path):
    """stats.every 1 and full_every 1e6: after the first sample, every sample takes only
    the core figures. The dashboard keeps showing the first sample's update ratio, in the
    table (dimmed, and the title says so) and in the heatmap (no holes)."""
    preset = tiny_dict(train__epochs=1000, stats={"every": 1, "full_every": 1_000_000},
                       model={"layers": [{"units": 8, "activation": "relu", "repeat": 4}]})
    app = make_app(preset, logs_dir=tmp_path, run_source=functools.partial(ScriptedRun, step_time=0.002))
    async with app.run_test(size=(160, 40)) as pilot:
        dash = app.screen
        table = dash.query_one(LayerTable)
        await until(pilot, lambda: len(dash.state.grads) >= 5 and table.carried)
        assert table.carried_from == dash.state.grad_full_step == 1   # the first sample
        assert table.border_title.endswith(f"· dim: from step 1")
        ratio = [c for c, (k, _) in enumerate(COLUMNS) if k == "update_ratio"][0] + 1
        norm = [c for c, (k, _) in enumerate(COLUMNS) if k == "norm"][0] + 1
        row = table.get_row_at(0)
        assert "dim" in str(row[ratio].style) and "dim" not in str(row[norm].style)
        assert math.isfinite(float(row[ratio].plain))
        col = STAT_COLUMNS.index("update_ratio")
        samples = dash.state.grads.points()[1]
        assert all(np.isfinite(x[:, col]).all() for x in samples)
        heat = dash.query_one(GradHeatmap)
        await pilot.press("g")                          # the update-ratio heatmap
        await until(pilot, lambda: heat.shown_range is not None and "update" in heat.border_title)
        assert heat.shown_range[0] < heat.shown_range[1]
        dash.control.stop()
        await app.workers.wait_for_complete()
    events = [json.loads(line) for line in next(tmp_path.glob("*/events.jsonl")).open()]
    flags = [e.get("core_only", False) for e in events if e["kind"] == "grad_stats"]
    assert flags[0] is False and all(flags[1:]) and len(flags) >= 5


async def test_no_color_heatmap_uses_shades(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(DEEP, logs_dir=tmp_path, run_source=functools.partial(ScriptedRun, step_time=0.002))
    async with app.run_test(size=(100, 30)) as pilot:
        dash = app.screen
        heat = dash.query_one(GradHeatmap)

        def body() -> str:
            return "".join(heat.render_line(y).text for y in range(heat.size.height - 1))

        await until(pilot, lambda: len(dash.state.grads) >= 3 and set(body()) & set("░▒▓█"))
        assert "▀" not in body()
        dash.control.stop()
        await app.workers.wait_for_complete()


def _table_app(st: RunState):
    """A bare app showing one LayerTable of ``st``."""
    from textual.app import App

    class One(App):
        def compose(self):
            yield LayerTable(st)

    return One()


async def test_layer_table_marks_frozen_layers_and_flags_nonfinite(tmp_path):
    st = RunState()
    st.layers = ["dense", "dense_1", "out"]
    vals = [[1e-9, 0, 0, 0, 0.9, 0, 1, 0, math.nan, math.nan],
            [0.5, 0, 0, 0, 0, 0, 1, 0, 0.1, 0.9],
            [float("inf"), 0, 0, 0, 0, 3, 1, 0, 0.1, 0.9]]
    st.apply(GradStats(step=42, epoch=0, columns=list(STAT_COLUMNS), values=vals,
                       frozen=[True, False, False]))

    async with _table_app(st).run_test(size=(120, 20)) as pilot:
        table = pilot.app.query_one(LayerTable)
        table.update_view()
        await pilot.pause()
        assert table.row_count == 3 and table.shown_step == 42
        row0 = [str(c) for c in table.get_row_at(0)]
        assert "frozen" in row0 and "❄" in row0[0]
        assert str(table.get_row_at(2)[1]) == "inf"


async def test_layer_table_scrolls_its_rows_under_a_fixed_header():
    st = RunState()
    st.layers = [f"dense_{i}" for i in range(100)]
    vals = [[0.5 + i, 0, 0, 0, 0, 0, 1, 0, 0.1, 0.9] for i in range(100)]
    st.apply(GradStats(step=7, epoch=0, columns=list(STAT_COLUMNS), values=vals, frozen=[False] * 100))

    async with _table_app(st).run_test(size=(100, 12)) as pilot:
        table = pilot.app.query_one(LayerTable)
        table.update_view()
        table.focus()
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(table.size.height)]
        assert lines[0].split()[:3] == ["layer", "norm", "mean"]
        assert lines[1].split()[0] == "dense_0"
        await pilot.press("end")
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(table.size.height)]
        assert lines[0].split()[0] == "layer"           # the header stays
        assert lines[-1].split()[:2] == ["dense_99", "99.5"]
        await pilot.press("home", "down", "down")
        await pilot.pause()
        assert table.render_line(1).text.split()[0] == "dense_2"
        table.styles.width = 40                 # narrower than its columns: right scrolls
        await pilot.pause()
        await pilot.press("right", "right", "right", "right", "right", "right")
        await pilot.pause()
        assert not table.render_line(0).text.lstrip().startswith("layer")


def _log_app(state: RunState):
    from textual.app import App

    class LogApp(App):
        def compose(self):
            yield EventLog(state)

    return LogApp()


def _add_lines(state: RunState, log, numbers) -> None:
    for i in numbers:
        state.note(f"line {i}")
    log.update_view()


async def test_event_log_scrolls_without_relayout_of_the_screen():
    """New lines grow the log's scrollable size, not the screen's layout; its scrollbar
    and scrolling still follow (auto-scroll to the newest line, back to the first)."""
    state = RunState()
    async with _log_app(state).run_test(size=(60, 10)) as pilot:
        log = pilot.app.query_one(EventLog)
        _add_lines(state, log, range(40))
        await pilot.pause()     # the scrollbar appears: that one lays the screen out
        layouts = []
        screen = pilot.app.screen
        original = screen._refresh_layout
        screen._refresh_layout = lambda *a, **k: (layouts.append(1), original(*a, **k))[1]
        _add_lines(state, log, range(40, 80))
        await pilot.pause()
        assert not layouts, "a new log line laid the whole screen out again"
        assert log.virtual_size.height == 80 and log.max_scroll_y > 0
        assert log.vertical_scrollbar.window_virtual_size == 80
        shown = [log.render_line(y).text for y in range(log.size.height)]
        assert "line 79" in shown[-1]                 # auto-scrolled to the newest
        log.scroll_home(animate=False)
        await pilot.pause()
        assert "line 0" in log.render_line(0).text


async def test_event_log_follows_only_from_the_end_and_draws_a_batch_once():
    """Scrolled back, new lines leave the reader where they are; at the end, the log
    follows, and a batch of new lines with the scroll that follows them is one repaint."""
    state = RunState()
    async with _log_app(state).run_test(size=(60, 10)) as pilot:
        log = pilot.app.query_one(EventLog)
        _add_lines(state, log, range(40))
        await pilot.pause()
        assert "line 39" in log.render_line(log.size.height - 1).text
        log.scroll_home(animate=False)
        await pilot.pause()
        _add_lines(state, log, [40])
        await pilot.pause()
        assert "line 0" in log.render_line(0).text      # the reader stays
        assert log.scroll_y == 0
        log.scroll_end(animate=False)
        await pilot.pause()
        painted = []
        original = log.render_line
        log.render_line = lambda y: (painted.append(y), original(y))[1]
        _add_lines(state, log, range(41, 45))
        for _ in range(3):
            await pilot.pause()
        assert "line 44" in original(log.size.height - 1).text
        assert len(painted) == log.size.height, f"{len(painted)} lines painted"


async def test_loss_plot_keeps_the_train_curve_visible_where_validation_meets_it():
    """Train and validation losses in the same rows: the train curve is drawn over the
    validation line (which goes under it), and each epoch's point is marked on top."""
    from textual.app import App

    from tuitrain.engine.events import EpochEnd, Step
    from tuitrain.ui.widgets.curves import MetricPlot

    st = RunState()
    events = []
    for i in range(1, 501):
        events.append(Step(step=i, epoch=(i - 1) // 100, loss=2.3 * math.exp(-i / 30) + 0.4,
                           accuracy=0.8, lr=1e-3, clip_mode="off", clip_threshold=1.0,
                           grad_norm=1.0, clipped=False, samples_per_s=1e4))
        if i % 100 == 0:
            events.append(EpochEnd(epoch=i // 100 - 1, step=i, lr=1e-3, duration_s=0.1,
                                   metrics={"loss": 0.45, "val_loss": 0.5}))
    st.apply_all(events)

    class PlotApp(App):
        def compose(self):
            yield MetricPlot(st, "loss")

    async with PlotApp().run_test(size=(44, 10)) as pilot:
        plot = pilot.app.query_one(MetricPlot)
        plot.update_view()
        await pilot.pause()
        rows = [plot.render_line(y).text for y in range(plot.size.height)]
        right = "".join(row[len(row) // 2:] for row in rows)
        assert sum("\u2800" < ch <= "\u28ff" for ch in right) >= 8, "\n".join(rows)
        assert "".join(rows).count("●") == 5


async def test_header_of_an_ended_run_follows_a_theme_change():
    """The header keeps its painted lines between updates; a new theme repaints them
    (an ended run's header gets no more updates)."""
    from textual.app import App

    st = RunState()
    st.state, st.step, st.preset = "finished", 470, {"name": "quickstart"}

    class HeaderApp(App):
        def compose(self):
            yield RunHeader(st)

    async with HeaderApp().run_test(size=(100, 4)) as pilot:
        header = pilot.app.query_one(RunHeader)
        await pilot.pause()
        assert "FINISHED" in header.render_line(0).text
        dark = list(header.render_line(1))[-1].style.bgcolor
        pilot.app.theme = "textual-light"
        await pilot.pause()
        assert list(header.render_line(1))[-1].style.bgcolor != dark


def test_step_axis_ticks_are_round_numbers_within_the_range():
    from tuitrain.ui.widgets.curves import step_label, step_ticks

    assert step_ticks(32, 20000) == [5000, 10000, 15000, 20000]
    assert [step_label(t) for t in step_ticks(32, 20000)] == ["5000", "10k", "15k", "20k"]
    assert step_ticks(1, 470) == [100, 200, 300, 400]
    assert step_ticks(1, 3) == [1, 2, 3] and step_ticks(7, 7) == [7]
    assert step_label(1_000_000) == "1M"
    for lo, hi in ((1, 2), (5, 9), (94, 376), (1, 62), (3, 999_999), (10, 10**7)):
        ticks = step_ticks(lo, hi)
        assert 1 <= len(ticks) <= 5 and lo <= ticks[0] and ticks[-1] <= hi
        steps = {b - a for a, b in zip(ticks, ticks[1:])}
        assert len(steps) <= 1 and all(str(s).strip("0") in ("1", "2", "5") for s in steps)


def test_value_axis_ticks_are_round_numbers_with_the_decimals_they_need():
    from tuitrain.ui.widgets.curves import value_ticks

    assert value_ticks(0.32, 2.62) == ([0.5, 1.0, 1.5, 2.0, 2.5], ["0.5", "1.0", "1.5", "2.0", "2.5"])
    assert value_ticks(0.03, 0.85) == ([0.2, 0.4, 0.6, 0.8], ["0.2", "0.4", "0.6", "0.8"])
    assert value_ticks(100, 4000)[1] == ["1000", "2000", "3000", "4000"]
    assert value_ticks(0.41, 0.44, most=2) == ([0.42, 0.44], ["0.42", "0.44"])
    assert value_ticks(0.5, 0.5) == ([0.5], ["0.5"])   # flat: its value
    for lo, hi, most in ((2.5509, 2.5729, 5), (-1, 1, 5), (1e-4, 3e-4, 4), (0.0312, 0.859, 2)):
        ticks, labels = value_ticks(lo, hi, most)
        assert len(ticks) >= 2 and lo <= ticks[0] and ticks[-1] <= hi
        assert len({len(label) for label in labels}) <= 2   # one number of decimals


def test_heatmap_gutter_names_each_layer_once():
    """A shallow net's layers span several rows each: the gutter names each layer at its
    first row, not the same index every fourth row; a deep net's every fourth row."""
    from tuitrain.ui.widgets.heatmap import gutter_label

    shallow = [gutter_label(y, 33, 4) for y in range(33)]
    assert [label for label in shallow if label] == ["in", "1", "2", "3", "out"]
    assert shallow.index("2") == 17                      # int(17 * 4 / 33) == 2
    deep = [label for label in (gutter_label(y, 33, 101) for y in range(33)) if label]
    assert deep == ["in", "12", "24", "36", "48", "61", "73", "85", "out"]


async def test_compare_plot_is_drawn_for_its_size_not_the_size_before_layout():
    """An overlay plot drawn at mount (size 0) draws again once laid out: round ticks
    for its height, every point its width allows."""
    from textual.app import App

    from tuitrain.engine.events import Step
    from tuitrain.ui.widgets.overlay import OverlayPlot

    st = RunState()
    st.apply_all([Step(step=i, epoch=0, loss=2.3 * math.exp(-i / 300) + 0.3, accuracy=0.5,
                       lr=1e-3, clip_mode="off", clip_threshold=1.0, grad_norm=1.0,
                       clipped=False, samples_per_s=1.0) for i in range(1, 2001)])

    class CompareApp(App):
        def compose(self):
            yield OverlayPlot([("a", st)], "loss")

    async with CompareApp().run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        plot = pilot.app.query_one(OverlayPlot)
        text = [plot.render_line(y).text for y in range(plot.size.height)]
        axis = [row.split("┤")[0].strip() for row in text if "┤" in row]
        assert {"1.0", "2.0"} <= set(axis), text


def _lr_trace_app(steps: int):
    """An app showing the lr trace of ``steps`` steps at a constant lr of 0.001."""
    from textual.app import App

    from tuitrain.engine.events import Step
    from tuitrain.ui.widgets.lrtrace import LrTrace

    st = RunState()
    st.apply_all([Step(step=i, epoch=0, loss=1.0, accuracy=0.5, lr=1e-3, clip_mode="off",
                       clip_threshold=1.0, grad_norm=1.0, clipped=False, samples_per_s=1.0)
                  for i in range(1, steps + 1)])

    class LrApp(App):
        def compose(self):
            yield LrTrace(st)

    return LrApp()


async def test_lr_trace_labels_a_constant_lr_on_its_own_row():
    """plotext labelled the rows around a flat line (0.0015 ... 0.0005, skipping 0.001),
    so a constant lr of 0.001 sat on the row labelled 0.00117."""
    async with _lr_trace_app(50).run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        trace = pilot.app.query_one("LrTrace")
        rows = [trace.render_line(y).text for y in range(trace.size.height)]
        drawn = [row for row in rows if any("\u2800" < ch <= "\u28ff" for ch in row)]
        assert len(drawn) == 1 and drawn[0].split("┤")[0].strip() == "0.001", rows


async def test_narrow_plot_labels_every_step_tick_it_draws():
    """Ticks are spaced for the plot's width: plotext drops ticks whose labels collide,
    which left an 80x24 lr trace reading 100 150 250 (here 50 100 200)."""
    async with _lr_trace_app(282).run_test(size=(26, 10)) as pilot:
        await pilot.pause()
        trace = pilot.app.query_one("LrTrace")
        rows = [trace.render_line(y).text for y in range(trace.size.height)]
        axis = next(row for row in rows if "└" in row)
        labels = [int(label) for label in rows[rows.index(axis) + 1].split()]
        assert len(labels) == axis.count("┬") >= 2, rows
        assert len({b - a for a, b in zip(labels, labels[1:])}) == 1, labels   # evenly spaced
