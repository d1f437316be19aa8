"""Attach: a viewer app following and steering a run that another process trains.

The run is real: ``tuitrain run PRESET --detach --no-attach`` in a subprocess. The viewer
is the real app (Pilot). Waiting on the other process polls its run log (bounded loops);
waiting on the viewer runs the app (``pilot.pause``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import tomli_w
from conftest import tiny_dict, wait_until

from tuitrain.runlog import RunLog, process_alive, read_pid
from tuitrain.runlog.channel import RemoteControl
from tuitrain.ui.attach import AttachScreen
from tuitrain.ui.viewers import make_attach_app
from tuitrain.ui.widgets.header import RunHeader



async def until(pilot, cond, timeout=60.0, what="condition"):
    """Let the app(s) run until ``cond()`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def steps_logged(folder) -> int:
    return len(RunLog.load(folder).steps["step"])


def controls(folder) -> list[tuple[str, str]]:
    return [(c.command, c.source) for c in RunLog.load(folder).controls]


@pytest.fixture
def detached(tmp_path):
    preset = tmp_path / "long.toml"
    preset.write_text(tomli_w.dumps(tiny_dict(name="long", train__epochs=1000, stats={"every": 5})))
    logs = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, "-m", "tuitrain", "run", str(preset), "--detach", "--no-attach",
         "--logs-dir", str(logs)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = logs / proc.stdout.split()[0]
    pid = read_pid(folder)[0]
    wait_until(lambda: steps_logged(folder) > 3, what="the first steps")
    yield logs, folder, pid
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def test_attached_viewer_steers_and_leaving_keeps_the_run(detached):
    logs, folder, pid = detached
    app = make_attach_app(folder, logs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, AttachScreen) and screen.state.state == "running"
        start = screen.state.step
        await until(pilot, lambda: screen.state.step > start + 3, what="the viewer to follow")

        await pilot.press("p")
        await until(pilot, lambda: any(c == "pause" and s.startswith("viewer:") for c, s in controls(folder)),
                    what="the pause in the run log")
        await until(pilot, lambda: screen.state.state == "paused", what="the viewer to show the pause")
        assert ("pause", f"viewer:{os.getpid()}") in controls(folder)
        assert screen.check_action("resume", ())

        await pilot.press("p")
        await until(pilot, lambda: ("resume", f"viewer:{os.getpid()}") in controls(folder),
                    what="the resume in the run log")
        await until(pilot, lambda: screen.state.state == "running", what="the viewer to show it")
        await pilot.press("q")                    # leaves at once: nothing to confirm
        await until(pilot, lambda: not app.is_running, 10, "the viewer to close")
    assert process_alive(pid)
    n = steps_logged(folder)
    wait_until(lambda: steps_logged(folder) > n + 5, what="the run to go on without a viewer")
    assert RunLog.load(folder).ended is None
    assert [c for c, _ in controls(folder)] == ["pause", "resume"]

    # Two viewers at once: each one's keys steer the run, each sees what the other did.
    one, two = make_attach_app(folder, logs, source="viewer:one"), make_attach_app(folder, logs, source="viewer:two")
    async with one.run_test(size=(100, 30)) as p1, two.run_test(size=(100, 30)) as p2:
        s1, s2 = one.screen, two.screen
        await p1.press("p")
        await until(p2, lambda: s1.state.state == s2.state.state == "paused", what="both paused")
        await p2.press("p")
        await until(p1, lambda: s1.state.state == s2.state.state == "running", what="both running")
        assert controls(folder)[-2:] == [("pause", "viewer:one"), ("resume", "viewer:two")]

        # A run that ends while attached shows its final status in every viewer.
        RemoteControl(folder, source="viewer:test").stop()
        await until(p1, lambda: s1.state.state == s2.state.state == "stopped", what="both stopped")
        assert "STOPPED" in str(s1.query_one(RunHeader).render())
        assert not s2.check_action("pause", ())
    assert RunLog.load(folder).ended.status == "stopped"


async def test_attached_viewer_shows_a_killed_run_as_crashed(detached):
    logs, folder, pid = detached
    app = make_attach_app(folder, logs)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state.step > 3, what="steps")
        os.kill(pid, signal.SIGKILL)
        await until(pilot, lambda: screen.state.state == "crashed", 30, "the crash")
        assert "CRASHED" in str(screen.query_one(RunHeader).render())
        assert not screen.check_action("pause", ()) and not screen.check_action("stop", ())
        assert app.last_status == "crashed"
        await pilot.press("q")
    assert RunLog.load(folder).status == "crashed"
