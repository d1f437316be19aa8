"""A user keymap (binding id -> keys) changes the dashboard's keys."""

from __future__ import annotations

import pytest

from test_ui_dashboard import SCRIPTED_PRESET, scripted, until
from tuitrain.ui.app import make_app
from tuitrain.ui.keymap import KeymapError, load_keymap
from tuitrain.ui.screens.help import HelpScreen


async def test_keymap_file_rebinds_help(tmp_path, monkeypatch, logs_dir):
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('[keys]\n"run.help" = "f1"\n')
    monkeypatch.setenv("TUITRAIN_KEYMAP", str(keymap))
    app = make_app(SCRIPTED_PRESET, logs_dir=logs_dir, run_source=scripted(step_time=0.01))
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.state.state == "running", 20)
        await pilot.press("question_mark")         # the default key no longer opens help
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        dash.control.stop()
        await app.workers.wait_for_complete()


def test_bad_keymap_is_one_clear_error(tmp_path):
    bad = tmp_path / "keymap.toml"
    bad.write_text('[keys]\n"run.help" = 3\n')
    with pytest.raises(KeymapError, match=r"keymap.toml: keys.run.help"):
        load_keymap(bad)
    assert load_keymap(tmp_path / "missing.toml") == {}
