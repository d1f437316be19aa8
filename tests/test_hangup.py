"""A dropped SSH session: the dashboard's process gets SIGHUP, the run ends "interrupted"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import wait_until
from tuitrain.runlog import RunLog



@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_sighup_while_the_dashboard_trains_leaves_an_interrupted_log(tmp_path):
    session = f"tuitrain-hup-{os.getpid()}"
    cmd = [sys.executable, "-m", "tuitrain", "run", "quickstart", "--logs-dir", str(tmp_path)]
    for o in ("data.source=subset", "data.limit=300", "data.validation_size=100",
              "train.epochs=500", "stats.every=1", "evaluation.test=false"):
        cmd += ["--set", o]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # The app is the pane's own process: killing the session hangs up its terminal.
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", *cmd],
                   check=True, env=env)
    try:
        def folder():
            dirs = [d for d in tmp_path.iterdir() if d.is_dir()]
            return dirs[0] if dirs else None

        run = wait_until(folder, 120, "the run folder")
        wait_until(lambda: RunLog.load(run).steps and len(RunLog.load(run).steps["step"]) > 5,
                   120, "the first steps")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    wait_until(lambda: RunLog.load(run).ended is not None, 60, "the end event")
    log = RunLog.load(run)
    assert log.ended.status == "interrupted"
    assert log.controls[-1].command == "stop" and log.controls[-1].source == "signal"
    assert log.status == "interrupted"
