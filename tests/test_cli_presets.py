"""The ``tuitrain presets ...`` command line, run as a user runs it: in a subprocess.

Every bad input must end in exactly one ``tuitrain: error: ...`` line on stderr naming the
file and the field, exit status 2, and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tuitrain.preset import load_preset, validate_preset

REPO = Path(__file__).resolve().parent.parent
PRESETS_DIR = REPO / "presets"
SHIPPED = sorted(PRESETS_DIR.glob("*.toml"))
BAD = sorted((Path(__file__).resolve().parent / "bad_presets").glob("*.toml"))
BAD_BY_NAME = {p.stem: p for p in BAD}


def tuitrain(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "tuitrain", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tuitrain: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def expectation(path: Path) -> str | None:
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if line.startswith("# expect: "):
            value = line.removeprefix("# expect: ").strip()
            return None if value == "-" else value
    raise AssertionError(f"{path.name} has no '# expect:' line")


# --------------------------------------------------------------------------- list / show


def test_list_shows_every_shipped_preset_on_one_line():
    proc = tuitrain("presets", "list")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    for path in SHIPPED:
        preset = load_preset(path)
        line = lines[preset.name]
        assert (preset.chapter or "-") in line.split()[1]
        assert "shipped" in line and preset.description[:40] in line
    assert str(PRESETS_DIR) in proc.stdout  # says where the shipped presets come from


def test_list_includes_user_presets_and_flags_invalid_ones(tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "fast.toml").write_text(
        (PRESETS_DIR / "quickstart.toml").read_text().replace('"quickstart"', '"fast"'))
    (tmp_path / "presets" / "oops.toml").write_text("[train\n")
    proc = tuitrain("presets", "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    fast = next(l for l in proc.stdout.splitlines() if l.startswith("fast "))
    oops = next(l for l in proc.stdout.splitlines() if l.startswith("oops "))
    assert " user " in fast and "presets/fast.toml" in fast
    assert "INVALID" in oops and "TOML syntax error" in oops


def test_show_prints_the_complete_preset_as_toml():
    proc = tuitrain("presets", "show", "r25_one_cycle")
    assert proc.returncode == 0 and proc.stderr == ""
    shown = validate_preset(tomllib.loads(proc.stdout), "stdout")
    assert shown == load_preset(PRESETS_DIR / "r25_one_cycle.toml")
    assert "batch_size = 128" in proc.stdout and "seed = 42" in proc.stdout  # defaults shown


def test_show_applies_overrides_and_prints_advisories_as_warnings():
    proc = tuitrain("presets", "show", "R01", "--set", "data.normalization=scale")
    assert proc.returncode == 0
    assert 'normalization = "scale"' in proc.stdout
    assert proc.stderr.startswith("warning: ") and "standardized" in proc.stderr


def test_show_unknown_name_suggests_and_points_to_list():
    assert_one_error_line(tuitrain("presets", "show", "r13_adma"),
                          "r13_adma", "did you mean 'r13_adam'", "tuitrain presets list")


def test_schema_command_prints_the_committed_schema():
    proc = tuitrain("presets", "schema")
    assert proc.returncode == 0
    assert proc.stdout == (PRESETS_DIR / "preset.schema.json").read_text()


# --------------------------------------------------------------------------- validate


def test_validate_all_shipped_presets():
    proc = tuitrain("presets", "validate", *map(str, SHIPPED))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no errors, and the chapter runs trigger no warnings
    assert proc.stdout.splitlines() == [f"{p}: ok" for p in SHIPPED]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_validate_bad_preset(path):
    proc = tuitrain("presets", "validate", str(path))
    field = expectation(path)
    line = assert_one_error_line(proc, str(path))
    if field:
        assert f"{path}: {field}: " in line
    assert proc.stdout == ""


def test_validate_reports_every_file_and_fails_if_any_is_bad():
    good, bad = SHIPPED[0], BAD[0]
    proc = tuitrain("presets", "validate", str(good), str(bad))
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [f"{good}: ok"]
    assert_one_error_line(proc, str(bad))


def test_validate_missing_file():
    assert_one_error_line(tuitrain("presets", "validate", "no/such/preset.toml"),
                          "no/such/preset.toml: no such file")


def test_validate_warns_on_advisories(tmp_path):
    selu = tmp_path / "selu.toml"
    selu.write_text((PRESETS_DIR / "r01_selu_deep.toml").read_text()
                    .replace('normalization = "standardize"', 'normalization = "scale"'))
    proc = tuitrain("presets", "validate", str(selu))
    assert proc.returncode == 0 and proc.stdout == f"{selu}: ok\n"
    assert proc.stderr.startswith(f"warning: {selu}: SELU")


# --------------------------------------------------------------------------- run: errors


@pytest.mark.parametrize("args, fragments", [
    (["quickstart", "--set", "train.epochs=0"], ["quickstart.toml: train.epochs: ", "greater than 0"]),
    (["quickstart", "--set", "train.epochs"], ["--set: train.epochs: expected KEY=VALUE"]),
    (["quickstart", "--set", "optimizer.nme=adam"], ["optimizer.nme: unknown key"]),
    (["no_such_preset"], ["no_such_preset: unknown preset"]),
])
def test_run_rejects_bad_presets_before_training(args, fragments):
    assert_one_error_line(tuitrain("run", *args, "--headless"), *fragments)


def test_run_rejects_each_kind_of_bad_file():
    path = BAD_BY_NAME["piecewise_lengths"]
    assert_one_error_line(tuitrain("run", str(path), "--headless"),
                          f"{path}: schedule.values: ")



def test_preset_commands_do_not_load_tensorflow_or_textual():
    code = ("import sys; from tuitrain.cli import main; main(['presets', 'validate', "
            f"{str(SHIPPED[0])!r}]); print(sorted(m for m in ('tensorflow', 'keras', 'textual') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"
