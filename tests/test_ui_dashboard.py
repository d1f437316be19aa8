"""Pilot tests of the live dashboard: a tiny real run (Keras, embedded subset) steered with
the keys, plus failure, quit and palette behaviour against the scripted event source.

Waits are on conditions of the RunState (bounded loops of ``pilot.pause``), never sleeps.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import pytest
from conftest import tiny_dict

from textual.widgets import Input, Select, Static
from textual.worker import WorkerFailed

from tuitrain.ui.app import make_app
from tuitrain.ui.screens.dashboard import DashboardScreen
from tuitrain.ui.screens.dialogs import ClipDialog, ConfirmDialog
from tuitrain.ui.screens.help import HelpScreen
from tuitrain.ui.screens.schedule import ScheduleDialog
from tuitrain.ui.scripted import ScriptedRun
from tuitrain.ui.widgets.lrtrace import LrTrace


async def until(pilot, cond, timeout: float = 90.0, what: str = "condition") -> None:
    """Let the app run until ``cond()`` holds; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def real_preset() -> dict:
    # Enough epochs to keep running while keys are pressed; the test stops it. (400
    # epochs last about 40 s headless here, about what the dialogs test takes on a busy
    # machine: it once timed out on CI waiting for the schedule to apply.)
    return tiny_dict(train__epochs=4000)


async def stop_and_confirm(pilot, app, dash: DashboardScreen) -> None:
    await pilot.press("x")
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10, "the stop dialog")
    await pilot.press("y")
    await until(pilot, lambda: dash.state.ended, 60, "the run to end")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_pause_resume_stop_real_run(logs_dir):
    app = make_app(real_preset(), logs_dir=logs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await until(pilot, lambda: dash.state.step >= 5, what="the first steps")
        assert dash.check_action("resume", ()) is False   # hidden while running

        await pilot.press("p")
        await until(pilot, lambda: dash.state.state == "paused", 30, "the pause")
        paused_at = dash.state.step
        assert dash.check_action("pause", ()) is False and dash.check_action("resume", ())
        t_end = time.monotonic() + 1.0            # watch the counter for a second
        while time.monotonic() < t_end:
            await pilot.pause(0.1)
        assert dash.state.step == paused_at, "steps ran while paused"

        await pilot.press("p")
        await until(pilot, lambda: dash.state.step >= paused_at + 3, 30, "steps after resume")
        assert dash.state.state == "running"

        await stop_and_confirm(pilot, app, dash)
        assert dash.state.state == "stopped"
        for action in ("pause", "resume", "stop", "clip", "schedule", "lr_up", "checkpoint"):
            assert not dash.check_action(action, ()), action
        assert dash.check_action("grad_view", ()) and dash.check_action("help", ())

    log = events(dash.run_dir)
    commands = [(e["command"], e["source"]) for e in log if e["kind"] == "control"]
    assert ("pause", "ui") in commands and ("resume", "ui") in commands and ("stop", "ui") in commands
    assert log[-1]["kind"] == "run_ended" and log[-1]["status"] == "stopped"


async def test_clip_and_schedule_dialogs_real_run(logs_dir):
    app = make_app(real_preset(), logs_dir=logs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.state.step >= 3, what="the first steps")

        # An invalid threshold is refused inside the dialog, with the reason shown.
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ClipDialog), 10, "the clip dialog")
        dialog = app.screen
        dialog.query_one("#clip-mode", Select).focus()
        await pilot.press("enter", "down", "down", "enter")    # off -> value -> norm
        assert dialog.query_one("#clip-mode", Select).value == "norm"
        dialog.query_one("#clip-threshold", Input).value = ""
        dialog.query_one("#clip-threshold", Input).focus()
        await pilot.press("minus", "1", "enter")
        assert app.screen is dialog, "an invalid threshold closed the dialog"
        message = str(dialog.query_one("#dialog-error", Static).render())
        assert "threshold" in message and "greater than 0" in message
        assert not dash.control.pending()

        # A valid one is applied from the next step.
        dialog.query_one("#clip-threshold", Input).value = ""
        await pilot.press("0", ".", "5", "enter")
        await until(pilot, lambda: dash.state.clip_mode == "norm", 30, "clipping to apply")
        assert dash.state.clip_threshold == 0.5

        # The schedule dialog swaps the schedule; the lr trace follows.
        lr_before = dash.state.lr
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDialog), 10, "the schedule dialog")
        dialog = app.screen
        dialog.query_one("#schedule-kind", Select).value = "exponential"
        await until(pilot, lambda: bool(dialog.query("#field-decay_steps")), 10, "the fields")
        dialog.query_one("#field-decay_steps", Input).value = "abc"
        dialog.query_one("#field-decay_rate", Input).value = "0.1"
        await pilot.click("#apply")
        assert app.screen is dialog
        assert "decay_steps" in str(dialog.query_one("#dialog-error", Static).render())
        dialog.query_one("#field-decay_steps", Input).value = "4"
        await pilot.pause()     # the change is handled (the form revalidates) before the click
        await pilot.click("#apply")
        await until(pilot, lambda: dash.state.schedule.get("kind") == "exponential", 30, "the schedule")
        trace = app.screen.query_one(LrTrace)
        await until(pilot, lambda: dash.state.lr < lr_before / 20 and trace.log_scale, 60,
                    "the lr to decay over a decade")

        await pilot.press("plus")
        await until(pilot, lambda: any(m.command == "scale_lr" for m in dash.state.markers), 30,
                    "lr x2")
        await stop_and_confirm(pilot, app, dash)

    log = events(dash.run_dir)
    i = next(i for i, e in enumerate(log) if e["kind"] == "control" and e["command"] == "set_clip")
    assert log[i]["args"]["mode"] == "norm" and log[i]["args"]["threshold"] == 0.5
    assert log[i]["source"] == "ui"
    before = [e for e in log[:i] if e["kind"] == "step"]
    after = [e for e in log[i:] if e["kind"] == "step"]
    assert before[-1]["clip_mode"] == "off"
    assert after[0]["step"] == before[-1]["step"] + 1 and after[0]["clip_mode"] == "norm"
    assert after[0]["clip_threshold"] == 0.5
    sched = [e for e in log if e["kind"] == "control" and e["command"] == "set_schedule"]
    assert sched and sched[0]["args"]["schedule"]["kind"] == "exponential"
    assert not [e for e in log if e["kind"] == "control" and e["command"] == "set_clip"
                and e["args"].get("threshold", 1) <= 0]


def scripted(**kw):
    return functools.partial(ScriptedRun, **kw)


SCRIPTED_PRESET = tiny_dict(train__epochs=1000, model={"layers": [
    {"units": 8, "activation": "relu", "repeat": 100}]})


async def test_loss_accuracy_and_lr_plots_repaint_on_one_step_axis(logs_dir):
    """The three plots repaint in the same tick, so their step axes end at the same step
    whenever the user looks (the lr trace used to lag the curves by up to a second)."""
    app = make_app(SCRIPTED_PRESET, logs_dir=logs_dir, run_source=scripted(step_time=0.002))
    async with app.run_test(size=(200, 60)) as pilot:
        dash = app.screen
        plots = [dash.query_one("#loss-plot"), dash.query_one("#acc-plot"), dash.query_one(LrTrace)]
        ends: set[int] = set()

        def three_repaints() -> bool:
            drawn = [p.drawn_to for p in plots]
            assert drawn.count(drawn[0]) == 3, f"step axes end at {drawn}"
            if drawn[0] is not None:
                ends.add(drawn[0])
            return len(ends) >= 3

        await until(pilot, three_repaints, 60, "three repaints of the plots")
        await stop_and_confirm(pilot, app, dash)


async def test_failure_shows_error_panel_and_ui_stays_usable(logs_dir):
    app = make_app(SCRIPTED_PRESET, logs_dir=logs_dir, run_source=scripted(fail_at=12, step_time=0.001))
    async with app.run_test(size=(100, 30)) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.state.state == "failed", 20, "the failure")
        # The worker itself failed. (workers.wait_for_complete() would raise too, but only
        # while the finished worker is still listed: that was a race.)
        with pytest.raises(WorkerFailed, match="scripted failure at step 12"):
            await dash.worker.wait()
        await pilot.pause()
        panel = dash.query_one("#error-panel", Static)
        assert panel.display and "scripted failure at step 12" in str(panel.render())
        assert "RuntimeError" in dash.state.reason
        await pilot.press("g")                       # still responsive
        assert dash.board.grad_view == 1
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")                       # ended: quits without asking
    assert app.last_status == "failed"
    assert events(dash.run_dir)[-1]["status"] == "failed"


async def test_quit_while_live_asks_and_stops_gracefully(logs_dir):
    app = make_app(SCRIPTED_PRESET, logs_dir=logs_dir, run_source=scripted(step_time=0.005))
    async with app.run_test(size=(80, 24)) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.state.step > 5, 20, "steps")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")                  # cancel: the run goes on
        assert isinstance(app.screen, DashboardScreen) and dash.state.live
        await pilot.press("q")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not app.is_running, 20, "the app to exit")
    assert dash.state.state == "stopped"
    assert events(dash.run_dir)[-1]["status"] == "stopped"


async def test_help_and_palette_list_every_key(logs_dir):
    app = make_app(SCRIPTED_PRESET, logs_dir=logs_dir, run_source=scripted(step_time=0.01))
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.state.state == "running" and dash.runner is not None, 20)
        titles = [c.title for c in app.get_system_commands(dash)]
        for word in ("Pause", "Clip", "Sched", "lr×2", "lr÷2", "Save", "Stop", "Grads", "Help"):
            assert any(t.startswith(word) for t in titles), word
        assert not any(t.startswith("Resume") for t in titles)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        table = help_screen.query_one("#help-table")
        actions = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        for desc in ("Pause", "Resume", "Clip", "Sched", "Stop", "Quit"):
            assert desc in actions
        await pilot.press("escape")
        pause = next(c for c in app.get_system_commands(dash) if c.title.startswith("Pause"))
        app.call_later(pause.callback)          # what the palette does with a chosen command
        await until(pilot, lambda: dash.state.state == "paused", 20, "a pause from the palette")
        titles = [c.title for c in app.get_system_commands(dash)]
        assert any(t.startswith("Resume") for t in titles)
        dash.control.stop()
        await app.workers.wait_for_complete()


async def test_home_start_run_opens_the_dashboard_and_escape_returns(logs_dir):
    from tuitrain.preset import validate_preset
    from tuitrain.ui.screens.home import HomeScreen

    app = make_app(None, logs_dir=logs_dir, run_source=scripted(step_time=0.002))
    async with app.run_test(size=(120, 40)) as pilot:
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.post_message(HomeScreen.StartRun(validate_preset(SCRIPTED_PRESET), None))
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), 20, "the dashboard")
        dash = app.screen
        await until(pilot, lambda: dash.state.step > 3, 20, "steps")
        assert not dash.check_action("back", ())        # not while the run is live
        await stop_and_confirm(pilot, app, dash)
        assert dash.check_action("back", ())
        await pilot.press("escape")
        assert app.screen is home



def test_cli_dashboard_in_tmux(tmp_path):
    """The real command in a real terminal (tmux): launch, pause, resume, quit; the screen
    text shows each state and the run log ends "stopped"."""
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("tmux") is None:
        import pytest
        pytest.skip("tmux is not installed")
    session = f"tuitrain-test-{os.getpid()}"
    overrides = ["data.source=subset", "data.limit=300", "data.validation_size=100",
                 "train.epochs=500", "stats.every=1", "evaluation.test=false"]
    cmd = [sys.executable, "-m", "tuitrain", "run", "quickstart", "--logs-dir", str(tmp_path)]
    for o in overrides:
        cmd += ["--set", o]
    status = tmp_path / "exit.txt"
    shell = " ".join(f"'{c}'" for c in cmd) + f"; echo $? > '{status}'; sleep 5"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", shell],
                   check=True, env=env)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                              capture_output=True, text=True).stdout

    def wait_for(cond, timeout: float, what: str) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = screen()
            if cond(text):
                return text
            time.sleep(0.25)   # polling another process's terminal: nothing to await
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen()}")

    def keys(*k: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *k], check=True)

    try:
        wait_for(lambda t: "RUNNING" in t and "samples/s" in t, 120, "the running dashboard")
        keys("p")
        # The header and then the footer (which now offers Resume) follow the pause event.
        wait_for(lambda t: "PAUSED" in t and "Resume" in t, 30, "PAUSED with Resume offered")
        keys("p")
        wait_for(lambda t: "RUNNING" in t, 30, "RUNNING again")
        keys("q")
        wait_for(lambda t: "Quit tuitrain?" in t, 10, "the quit question")
        keys("y")
        end = time.monotonic() + 60
        while not status.exists():
            assert time.monotonic() < end, "the app did not exit"
            time.sleep(0.25)
        assert status.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    run_dirs = [d for d in tmp_path.iterdir() if d.is_dir()]
    log = events(run_dirs[0])
    assert [e["command"] for e in log if e["kind"] == "control"] == ["pause", "resume", "stop"]
    assert log[-1]["status"] == "stopped"
