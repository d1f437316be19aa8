"""Detached runs: a background process that outlives its terminal, and its crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import tomli_w

from conftest import tiny_dict, wait_until
from tuitrain.runlog import RunLog, list_runs, read_pid
from tuitrain.runlog.channel import RemoteControl



def detach(tmp_path, epochs=1000):
    preset = tmp_path / "long.toml"
    preset.write_text(tomli_w.dumps(tiny_dict(name="long", train__epochs=epochs,
                                              stats={"every": 5})))
    logs = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, "-m", "tuitrain", "run", str(preset), "--detach", "--no-attach",
         "--logs-dir", str(logs)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    name = proc.stdout.split()[0]
    folder = logs / name
    pid = read_pid(folder)[0]
    return logs, folder, pid


def steps_logged(folder):
    log = RunLog.load(folder)
    return len(log.steps["step"]) if log.steps else 0


@pytest.fixture
def detached(tmp_path):
    logs, folder, pid = detach(tmp_path)
    yield logs, folder, pid
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_detached_run_survives_and_obeys_the_channel(detached):
    logs, folder, pid = detached
    assert (folder / "output.log").exists()
    wait_until(lambda: steps_logged(folder) > 3, what="the first steps")
    assert [r.status for r in list_runs(logs)] == ["running"]
    RemoteControl(folder, source="viewer:test").stop()
    wait_until(lambda: RunLog.load(folder).ended is not None, what="the end event")
    log = RunLog.load(folder)
    assert log.ended.status == "stopped"
    assert [(c.command, c.source) for c in log.controls] == [("stop", "viewer:test")]


def test_sigkill_leaves_a_readable_log_listed_as_crashed(detached):
    logs, folder, pid = detached
    wait_until(lambda: steps_logged(folder) > 3, what="the first steps")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: list_runs(logs)[0].status == "crashed", timeout=30, what="crashed")
    log = RunLog.load(folder)
    assert log.started is not None and log.ended is None
    assert len(log.steps["step"]) > 3
    assert log.status == "crashed"
