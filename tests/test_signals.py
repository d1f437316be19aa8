"""Headless runs and signals: Ctrl-C, SIGTERM, and a dropped SSH session (SIGHUP while
the terminal goes away) each stop the run after its current step, with status
"interrupted", a complete log and exit status 130."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import wait_until
from tuitrain.runlog import RunLog

OVERRIDES = ("data.source=subset", "data.limit=300", "data.validation_size=100",
             "train.epochs=500", "stats.every=1", "evaluation.test=false")


def command(logs_dir) -> list[str]:
    cmd = [sys.executable, "-m", "tuitrain", "run", "quickstart", "--headless",
           "--logs-dir", str(logs_dir)]
    for o in OVERRIDES:
        cmd += ["--set", o]
    return cmd


def run_folder(logs_dir):
    dirs = [d for d in logs_dir.iterdir() if d.is_dir()]
    return dirs[0] if dirs else None


def wait_for_steps(logs_dir, n: int = 5):
    run = wait_until(lambda: run_folder(logs_dir), 120, "the run folder")
    wait_until(lambda: RunLog.load(run).steps and len(RunLog.load(run).steps["step"]) > n,
               120, "the first steps")
    return run


def assert_interrupted(run) -> None:
    log = RunLog.load(run)
    assert log.ended is not None, "no end event"
    assert log.ended.status == "interrupted" and log.status == "interrupted"
    assert log.controls[-1].command == "stop" and log.controls[-1].source == "signal"
    # Stopped after the step in progress: every step up to the end event is in the log.
    steps = log.steps["step"].tolist()
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] == log.ended.step
    assert not (run / "pid").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_a_headless_run_cleanly(tmp_path, sig):
    out = open(tmp_path / "out.txt", "w")
    proc = subprocess.Popen(command(tmp_path / "logs"), stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        (tmp_path / "logs").mkdir(exist_ok=True)
        run = wait_for_steps(tmp_path / "logs")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
        out.close()
    assert_interrupted(run)
    text = (tmp_path / "out.txt").read_text()
    assert "interrupted" in text and str(run) in text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_dropped_terminal_stops_a_headless_run_cleanly(tmp_path):
    # The progress lines go to the terminal that disappears: writing them must not turn
    # the hang-up into a failed run.
    logs = tmp_path / "logs"
    logs.mkdir()
    session = f"tuitrain-hup-headless-{os.getpid()}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    *command(logs)], check=True, env=env)
    try:
        run = wait_for_steps(logs)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    wait_until(lambda: RunLog.load(run).ended is not None and not (run / "pid").exists(),
               60, "the end of the run")
    assert_interrupted(run)
