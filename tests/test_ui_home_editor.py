"""Pilot tests of the Home screen and the preset editor, mounted in a minimal host app.

The host records the messages the screens post (the real app acts on them), so the tests
check intentions: which preset a key starts, which run folders a key reviews.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Button, DataTable, Input, TextArea

from tuitrain.catalog import shipped_presets_dir
from tuitrain.engine.events import EpochEnd, RunEnded, RunStarted
from tuitrain.preset import load_preset, preset_to_toml_dict
from tuitrain.runlog import RunWriter
from tuitrain.ui.screens.dialogs import ConfirmDialog
from tuitrain.ui.screens.dialogs import SaveAsScreen
from tuitrain.ui.screens.editor import EditorScreen
from tuitrain.ui.screens.home import HomeScreen

REPO = Path(__file__).resolve().parents[1]
SHIPPED = shipped_presets_dir()


class _Host(App):
    """Pushes one screen and records the messages it posts."""

    def __init__(self, screen) -> None:
        super().__init__()
        self.first = screen
        self.messages: list = []

    def on_mount(self) -> None:
        self.push_screen(self.first)

    def on_home_screen_start_run(self, message: HomeScreen.StartRun) -> None:
        self.messages.append(message)

    def on_home_screen_review_runs(self, message: HomeScreen.ReviewRuns) -> None:
        self.messages.append(message)


def _write_run(logs: Path, preset_file: Path, accs: list[float], status: str) -> Path:
    preset = load_preset(preset_file)
    d = preset_to_toml_dict(preset)
    with RunWriter(logs, d, preset.name) as w:
        w.emit(RunStarted(run_id=w.name, preset=d, layers=["dense"], layer_info=[],
                          total_params=1, trainable_params=1, device="CPU", strategy="default",
                          steps_per_epoch=10, epochs=preset.train.epochs, train_samples=320,
                          val_samples=64, data_source="embedded subset"))
        for e, acc in enumerate(accs):
            w.emit(EpochEnd(epoch=e, step=10 * (e + 1), metrics={"val_accuracy": acc},
                            lr=0.001, duration_s=1.0))
        w.emit(RunEnded(status=status, step=10 * len(accs), epoch=len(accs)))
    return w.folder


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, list[Path]]:
    logs = tmp_path / "logs"
    older = _write_run(logs, SHIPPED / "r01_selu_deep.toml", [0.70, 0.8046], "finished")
    newer = _write_run(logs, SHIPPED / "quickstart.toml", [0.61], "stopped")
    return logs, [newer, older]


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "broken.toml").write_text(
        'name = "broken"\n[model]\nlayers = []\n[optimizer]\nname = "sgd"\n'
        'learning_rate = -1\n[train]\nepochs = 1\n')
    return folder


def _row_of(screen: HomeScreen, name: str) -> int:
    return [e.name for e in screen.entries].index(name)


async def test_home_lists_shipped_presets_runs_and_invalid_files(logs, broken_dir):
    logs_dir, folders = logs
    app = _Host(HomeScreen(logs_dir=logs_dir, preset_dirs=[broken_dir]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        presets = screen.query_one("#presets", DataTable)
        shipped = sorted(p.stem for p in SHIPPED.glob("*.toml"))
        assert presets.row_count == len(shipped) + 1
        names = [e.name for e in screen.entries]
        assert {"quickstart", "r01_selu_deep", "r02_relu_deep", "broken"} <= set(names)
        broken = screen.entries[_row_of(screen, "broken")]
        assert broken.preset is None and "optimizer.learning_rate" in broken.error
        row = presets.get_row_at(_row_of(screen, "broken"))
        assert "learning_rate" in str(row[2])
        runs = screen.query_one("#runs", DataTable)
        assert runs.row_count == 2
        assert [Path(r.folder) for r in screen.runs] == folders
        first = [str(c) for c in runs.get_row_at(0)]
        assert first[1] == "quickstart" and first[2] == "stopped" and first[3] == "1/5"
        second = [str(c) for c in runs.get_row_at(1)]
        assert second[2] == "finished" and second[3] == "2/5" and second[4] == "0.8046"


async def test_enter_starts_the_highlighted_preset_and_never_an_invalid_one(tmp_path,
                                                                           broken_dir):
    app = _Host(HomeScreen(logs_dir=tmp_path / "none", preset_dirs=[broken_dir]))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#presets", DataTable).move_cursor(row=_row_of(screen, "r02_relu_deep"))
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.messages) == 1
        msg = app.messages[0]
        assert isinstance(msg, HomeScreen.StartRun)
        assert msg.preset.name == "r02_relu_deep" and msg.path == SHIPPED / "r02_relu_deep.toml"
        assert msg.preset == load_preset(SHIPPED / "r02_relu_deep.toml")

        screen.query_one("#presets", DataTable).move_cursor(row=_row_of(screen, "broken"))
        await pilot.pause()
        assert screen.check_action("start", ()) is None  # shown, but disabled
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.messages) == 1
        # No runs: review is disabled, and r does nothing.
        assert screen.check_action("review", ()) is None
        await pilot.press("r")
        await pilot.pause()
        assert len(app.messages) == 1


async def test_runs_review_one_or_the_marked_ones(logs):
    logs_dir, (newer, older) = logs
    app = _Host(HomeScreen(logs_dir=logs_dir))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.check_action("mark", ()) is False  # belongs to the other list
        await pilot.press("tab")
        assert screen.focused.id == "runs"
        await pilot.press("enter")
        await pilot.pause()
        assert app.messages[-1] == HomeScreen.ReviewRuns([newer])
        # space marks and moves down; marking both and pressing r compares them.
        await pilot.press("space", "space", "r")
        await pilot.pause()
        assert app.messages[-1] == HomeScreen.ReviewRuns([newer, older])
        assert "2 marked" in str(screen.query_one("#runs-title").render())
        await pilot.press("tab")
        assert screen.focused.id == "presets"


async def test_e_opens_the_editor_and_escape_comes_back(tmp_path):
    app = _Host(HomeScreen(logs_dir=tmp_path, user_presets_dir=tmp_path / "presets"))
    async with app.run_test() as pilot:
        await pilot.pause()
        home = app.screen
        home.query_one("#presets", DataTable).move_cursor(row=_row_of(home, "r13_adam"))
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        assert editor.source_path == SHIPPED / "r13_adam.toml"
        assert editor.presets_dir == tmp_path / "presets"
        assert editor.preset == load_preset(SHIPPED / "r13_adam.toml")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is home


async def _type(pilot, widget: Input, text: str) -> None:
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_editor_refuses_an_out_of_range_learning_rate(tmp_path):
    app = _Host(EditorScreen(SHIPPED / "r08_sgd.toml", presets_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        editor = app.screen
        assert editor.preset is not None and editor.check_action("start_run", ()) is True
        lr = editor.node("optimizer.learning_rate")
        await _type(pilot, lr.control, "1000")
        error = lr.box.error
        assert error.display and "less than or equal to 100" in str(error.render())
        assert error.has_class("error")
        assert editor.preset is None
        assert editor.check_action("start_run", ()) is None
        assert editor.query_one("#start", Button).disabled
        assert "optimizer.learning_rate" in str(editor.query_one("#summary").render())
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.messages == []

        await _type(pilot, lr.control, "0.05")
        assert not error.display and editor.preset is not None
        await pilot.press("ctrl+r")
        await pilot.pause()
        (msg,) = app.messages
        assert msg.preset.optimizer.learning_rate == 0.05
        assert msg.path is None  # edited: the file is no longer what runs


async def test_editor_union_switch_carries_shared_fields_and_shows_missing_ones(tmp_path):
    app = _Host(EditorScreen(SHIPPED / "r08_sgd.toml", presets_dir=tmp_path))
    async with app.run_test() as pilot:
        await pilot.pause()
        editor = app.screen
        await _type(pilot, editor.node("optimizer.learning_rate").control, "0.02")
        editor.node("optimizer.name").control.value = "nadam"
        await pilot.pause()
        assert editor.preset.optimizer.name == "nadam"
        assert editor.preset.optimizer.learning_rate == 0.02
        assert editor.node("optimizer.beta_1").box.display
        # A schedule with a required field: the field says so, and the run cannot start.
        editor.node("schedule.kind").control.value = "exponential"
        await pilot.pause()
        assert editor.preset is None
        decay = editor.node("schedule.decay_steps")
        assert decay.path == "schedule.decay_steps"
        assert "Field required" in str(decay.box.error.render())
        await _type(pilot, decay.control, "20000")
        await _type(pilot, editor.node("schedule.decay_rate").control, "0.1")
        assert editor.preset is not None and editor.preset.schedule.decay_steps == 20000


async def test_editor_layers_are_toml_validated_with_the_preset(tmp_path):
    app = _Host(EditorScreen(SHIPPED / "r01_selu_deep.toml", presets_dir=tmp_path))
    async with app.run_test() as pilot:
        await pilot.pause()
        editor = app.screen
        assert editor.preset.advisories() == []
        assert not editor.query_one("#advisories").display
        layers = editor.node("model.layers")
        area = layers.control
        assert isinstance(area, TextArea) and "repeat = 100" in area.text
        area.text = "[[layers]]\nunits = \n"
        await pilot.pause()
        assert editor.preset is None and "TOML syntax error" in str(layers.box.error.render())
        area.text = '[[layers]]\nunits = 0\nactivation = "selu"\n'
        await pilot.pause()
        assert "[0].units" in str(layers.box.error.render())
        area.text = '[[layers]]\nunits = 50\nactivation = "selu"\nkernel_initializer = "he_normal"\n'
        await pilot.pause()
        assert editor.preset is not None
        assert editor.preset.model.layers[0].units == 50
        assert any("lecun_normal" in n for n in editor.preset.advisories())
        assert "lecun_normal" in str(editor.query_one("#advisories").render())


async def test_editor_saves_a_valid_preset_that_validates_from_the_command_line(tmp_path):
    folder = tmp_path / "presets"
    app = _Host(EditorScreen(SHIPPED / "r09_momentum.toml", presets_dir=folder))
    async with app.run_test() as pilot:
        await pilot.pause()
        editor = app.screen
        await _type(pilot, editor.node("train.epochs").control, "3")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SaveAsScreen)
        await _type(pilot, app.screen.query_one(Input), "bad name!")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaveAsScreen)  # refused, still asking
        await _type(pilot, app.screen.query_one(Input), "my_momentum")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is editor
    saved = folder / "my_momentum.toml"
    preset = load_preset(saved)
    assert preset.name == "my_momentum" and preset.train.epochs == 3
    assert preset.optimizer.momentum == 0.9
    if (REPO / "tuitrain" / "cli.py").exists():
        done = subprocess.run([sys.executable, "-m", "tuitrain", "presets", "validate",
                               str(saved)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr


async def test_save_as_never_overwrites_without_confirmation(tmp_path):
    folder = tmp_path / "presets"
    folder.mkdir()
    existing = folder / "taken.toml"
    existing.write_text("# mine\n")
    app = _Host(EditorScreen(SHIPPED / "r08_sgd.toml", presets_dir=folder))
    async with app.run_test() as pilot:
        await pilot.pause()
        for answer in ("n", "y"):
            await pilot.press("ctrl+s")
            await pilot.pause()
            await _type(pilot, app.screen.query_one(Input), "taken")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press(answer)
            await pilot.pause()
            if answer == "n":
                assert existing.read_text() == "# mine\n"
    assert load_preset(existing).name == "taken"


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_screens_render_at_small_and_large_sizes(tmp_path, logs, size):
    logs_dir, _ = logs
    for screen, expected in ((HomeScreen(logs_dir=logs_dir), ["r01_selu_deep", "quickstart"]),
                             (EditorScreen(SHIPPED / "r25_one_cycle.toml"),
                              ["r25_one_cycle", "fashion_mnist", "valid"])):
        app = _Host(screen)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            svg = app.export_screenshot()
            for text in expected:
                assert text in svg


async def test_palette_lists_the_keys_that_apply(tmp_path):
    app = _Host(EditorScreen(SHIPPED / "r08_sgd.toml", presets_dir=tmp_path))
    async with app.run_test() as pilot:
        await pilot.pause()
        editor = app.screen
        titles = [c.title for c in editor.palette_commands()]
        assert any(t.startswith("Start run") for t in titles)
        await _type(pilot, editor.node("train.epochs").control, "0")
        titles = [c.title for c in editor.palette_commands()]
        assert not any(t.startswith("Start run") for t in titles)
        assert any(t.startswith("Back") for t in titles)


async def test_editor_warns_about_keys_the_form_cannot_show(tmp_path):
    """An unknown key in the file is named up front, not silently dropped."""
    src = tmp_path / "typo.toml"
    src.write_text((SHIPPED / "r08_sgd.toml").read_text().replace(
        "[optimizer]", "[optimizer]\nmomentun = 0.9", 1))
    app = _Host(EditorScreen(src, presets_dir=tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        editor = app.screen
        assert editor.load_error and "optimizer.momentun: unknown key" in editor.load_error
        assert "momentun: unknown key" in str(editor.query_one("#advisories").render())
