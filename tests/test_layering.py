"""The headless core never imports Textual; the light commands never import TensorFlow."""

from __future__ import annotations

import subprocess
import sys


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    return set(out.split())


def test_engine_data_presets_and_runlog_do_not_import_textual():
    mods = modules_after(
        "import tuitrain.preset, tuitrain.data, tuitrain.runlog.reader, "
        "tuitrain.runlog.writer, tuitrain.engine.trainer, tuitrain.engine.schedules, "
        "tuitrain.headless"
    )
    assert "tuitrain.engine.trainer" in mods and "tensorflow" in mods
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)


def test_preset_commands_start_without_tensorflow():
    mods = modules_after("from tuitrain import cli, catalog, preset, data\nimport tuitrain.runlog")
    assert "tuitrain.cli" in mods
    assert "tensorflow" not in mods and "keras" not in mods
