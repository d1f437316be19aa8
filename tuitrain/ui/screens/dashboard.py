"""DashboardScreen: the live view of one run, and the keys that steer it.

The screen owns the run's :class:`RunState`, its :class:`Control` and the training worker
(a thread). The worker only calls the trainer; the trainer's sink batches events into
:class:`EventsBatch` messages; this screen applies them to the RunState and a timer
redraws what changed at most ``REDRAW_HZ`` times a second (the costly panels less often:
``COSTLY``). Keys send commands through the
Control; the run answers with ControlApplied events, and the state shown follows those
answers (the journal), not the key presses.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tuitrain.engine.control import Control, ControlError
from tuitrain.ui.bridge import BatchingSink, EventsBatch
from tuitrain.ui.commands import binding_commands
from tuitrain.ui.runstate import RunState
from tuitrain.ui.screens.dialogs import ClipDialog, ConfirmDialog
from tuitrain.ui.screens.help import HelpScreen
from tuitrain.ui.screens.schedule import ScheduleDialog
from tuitrain.ui.widgets.board import ALL_PANELS, RunBoard

REDRAW_HZ = 2
# The costly panels, the group each repaints with, and how often each group may repaint
# while the run goes on (a control, an alert, the run's start and end redraw everything at
# once). At 200x60 each plot or gradient panel costs 3-8 ms of the UI thread per repaint
# (docs/benchmarks.md), and on a 2-core box every millisecond of it slows training. The
# loss, accuracy and lr plots share a step axis, so they repaint together, every 2 s (the
# header's step counter, rate and ETA move twice a second); the heatmap and the layer
# table change slowly (a table that changes every second cannot be read); the event log
# shows new lines within a second.
COSTLY: dict[str, str] = {"curves": "plots", "lr": "plots", "grads": "grads", "log": "log"}
GROUP_HZ: dict[str, float] = {"plots": 0.5, "grads": 0.5, "log": 1.0}
_LR_GROUP = Binding.Group("lr", compact=True)
_STEERING = {"clip", "schedule", "lr_up", "lr_down", "checkpoint"}


class DashboardScreen(Screen):
    """Header, curves, lr trace, gradients and log of a run, with its keys."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    BINDINGS = [
        Binding("p", "pause", "Pause", id="run.pause", tooltip="Pause training after the current step"),
        Binding("p", "resume", "Resume", id="run.resume", tooltip="Resume a paused run"),
        Binding("c", "clip", "Clip", id="run.clip", tooltip="Gradient clipping: mode and threshold"),
        Binding("s", "schedule", "Sched", id="run.schedule", tooltip="Swap the learning-rate schedule"),
        Binding("plus,equals_sign", "lr_up", "lr×2", key_display="+", id="run.lr_up",
                tooltip="Double the learning rate", group=_LR_GROUP),
        Binding("minus", "lr_down", "lr÷2", key_display="-", id="run.lr_down",
                tooltip="Halve the learning rate", group=_LR_GROUP),
        Binding("k", "checkpoint", "Save", id="run.checkpoint", tooltip="Save the weights now"),
        Binding("x", "stop", "Stop", id="run.stop", tooltip="Stop the run (asks first); the log is completed"),
        Binding("g", "grad_view", "Grads", id="run.grad_view",
                tooltip="Cycle the heatmap: gradient norms, update ratios, activation std"),
        Binding("t", "toggle_table", "Table", id="run.table", show=False,
                tooltip="Narrow terminals: show the per-layer table instead of the heatmap"),
        Binding("escape", "back", "Home", id="run.back", show=False,
                tooltip="Back to the home screen (when the run has ended)"),
        Binding("question_mark", "help", "Help", key_display="?", id="run.help", tooltip="Every key and what it does"),
        Binding("q", "quit", "Quit", id="run.quit", tooltip="Quit (asks to stop a live run first)"),
    ]

    def __init__(self, preset: Any = None, *, run_source: Callable[..., Any] | None = None,
                 logs_dir: str | Path = "logs", state: RunState | None = None,
                 control: Any = None, **kwargs: Any):
        """Live: ``preset`` and ``run_source`` start a run here. Attach/review: pass the
        ``state`` fed from elsewhere (post :class:`EventsBatch` to this screen), and a
        ``control`` (a ``CommandSender``, e.g. a run folder's remote channel) to steer it."""
        super().__init__(**kwargs)
        self.preset = preset
        self.run_source = run_source
        self.logs_dir = Path(logs_dir)
        self.state = state or RunState()
        if preset is not None and not self.state.preset:
            self.state.preset = preset.model_dump(mode="json") if hasattr(preset, "model_dump") else dict(preset)
        self.external_control = control is not None
        self.control = control if control is not None else Control()
        self.sink = BatchingSink(lambda events: self.post_message(EventsBatch(events)))
        self.runner: Any = None
        self.worker: Worker | None = None
        self.quit_when_done = False
        self._drawn: dict[str, float] = {}   # COSTLY group -> when it last repainted

    def compose(self) -> ComposeResult:
        yield RunBoard(self.state, id="board")
        yield Footer()

    def on_mount(self) -> None:
        self.board = self.query_one(RunBoard)
        self.set_interval(1 / REDRAW_HZ, self._tick)
        if self.preset is not None and self.run_source is not None:
            self.worker = self._train()

    # -- the training thread -----------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="training", description="training run")
    def _train(self) -> Any:
        self.runner = self.run_source(self.preset, sink=self.sink, control=self.control,
                                      logs_dir=self.logs_dir)
        return self.runner.run()

    @property
    def run_dir(self) -> Path | None:
        return getattr(self.runner, "run_dir", None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "training" or not event.worker.is_finished:
            return
        self.sink.flush()
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            reason = f"{type(err).__name__}: {err}"
            tb = "".join(traceback.format_exception(err)).strip().splitlines()
            self.state.note("traceback (last lines): " + " | ".join(tb[-3:]), "error")
            self.app.notify(reason, title="Training failed", severity="error", timeout=10)
            self._fail_later(reason)
        elif event.state == WorkerState.CANCELLED:
            self._fail_later("the training worker was cancelled")
        else:
            result = event.worker.result
            if not self.state.ended and result is not None and getattr(result, "kind", "") == "run_ended":
                self.call_later(self._apply, [result])
        self.call_later(self._finished)

    def _fail_later(self, reason: str) -> None:
        # Queued after any EventsBatch still in flight, so a RunEnded(failed) from the
        # trainer, with its own reason, wins over the worker's exception text.
        self.call_later(self.state.fail, reason)

    def _finished(self) -> None:
        self.app.last_status = self.state.state   # the CLI's exit status reads it
        self.refresh_bindings()
        self._redraw(ALL_PANELS)
        if self.quit_when_done:
            self.app.exit()

    # -- events from the run ------------------------------------------------------------
    def on_events_batch(self, message: EventsBatch) -> None:
        self._apply(message.events)

    def _apply(self, events: list) -> None:
        self.state.apply_all(events)
        if any(e.kind in ("run_started", "control", "run_ended") for e in events):
            self.refresh_bindings()
            self._redraw(self.state.take_changes())

    def _tick(self) -> None:
        self.sink.flush()
        changes = self.state.take_changes()
        now = time.monotonic()
        # Costly panels at most at their group's rate (a tick's jitter of a few ms does
        # not hold a group back to the next tick); the header at REDRAW_HZ.
        due: dict[str, bool] = {}
        for panel in changes & COSTLY.keys():
            group = COSTLY[panel]
            if group not in due:
                due[group] = now - self._drawn.get(group, -1e9) >= 1 / GROUP_HZ[group] - 0.05
            if not due[group]:
                changes.discard(panel)
                self.state.changes.add(panel)
        for group, ok in due.items():
            if ok:
                self._drawn[group] = now
        if self.state.live:
            changes.add("header")   # elapsed time moves on
        self._redraw(changes)

    def _redraw(self, changes: set[str] | frozenset[str]) -> None:
        if changes:
            with self.app.batch_update():
                self.board.redraw(changes)

    def on_resize(self) -> None:
        footer = self.query_one(Footer)
        footer.compact = self.size.width < 120
        footer.show_command_palette = self.size.width >= 100   # ctrl+p still works
        self.refresh_bindings()

    # -- keys -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        st = self.state.state
        steerable = st in ("running", "paused") and (self.runner is not None or self.external_control)
        if action == "pause":
            return False if st == "paused" else (True if st == "running" and steerable else None)
        if action == "resume":
            return st == "paused" and steerable
        if action in _STEERING:
            return True if steerable else None
        if action == "stop":
            return True if steerable or st == "starting" and self.worker is not None else None
        if action == "toggle_table":
            return self.has_class("-narrow")
        if action == "back":
            return not self.state.live and len(self.app.screen_stack) > 1
        return True

    def _send(self, name: str, **args: Any) -> bool:
        try:
            self.control.send(name, source="ui", **args)
        except ControlError as exc:   # dialogs validate first; this is the last guard
            self.app.notify(str(exc), title="Refused", severity="error")
            return False
        self.state.pending = name
        self._redraw({"header"})
        return True

    def action_pause(self) -> None:
        self._send("pause")

    def action_resume(self) -> None:
        self._send("resume")

    def action_lr_up(self) -> None:
        self._send("scale_lr", factor=2.0)

    def action_lr_down(self) -> None:
        self._send("scale_lr", factor=0.5)

    def action_checkpoint(self) -> None:
        self._send("checkpoint")

    def action_clip(self) -> None:
        s = self.state

        def done(args: dict | None) -> None:
            if args is not None and self.check_action("clip", ()):
                self._send("set_clip", **args)

        threshold = s.clip_threshold if s.clip_threshold == s.clip_threshold else 1.0
        self.app.push_screen(ClipDialog(s.clip_mode, threshold), done)

    def action_schedule(self) -> None:
        def done(args: dict | None) -> None:
            if args is not None and self.check_action("schedule", ()):
                self._send("set_schedule", **args)

        self.app.push_screen(ScheduleDialog(self.state.schedule), done)

    def action_stop(self) -> None:
        def done(yes: bool | None) -> None:
            if yes and self.state.live:
                self._send("stop")

        self.app.push_screen(ConfirmDialog(
            "Stop the run?", "Training stops after the current step. The run log is completed "
            "and the run is marked \"stopped\".", yes="Stop the run", no="Keep training"), done)

    def action_quit(self) -> None:
        if not (self.state.live and self.worker is not None and not self.worker.is_finished):
            self.app.exit()
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.quit_when_done = True
                self._send("stop")
                self.app.notify("Stopping the run; the app quits when the log is complete.")

        self.app.push_screen(ConfirmDialog(
            "Quit tuitrain?", "The run is still going. Stop it gracefully (the run log is "
            "completed) and quit, or cancel and keep watching.", yes="Stop the run and quit",
            no="Cancel"), done)

    def action_grad_view(self) -> None:
        name = self.board.cycle_grad_view()
        self.app.notify(f"heatmap: {name}", timeout=2)

    def action_toggle_table(self) -> None:
        self.board.toggle_table()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every key's action that applies now, for the command palette."""
        return binding_commands(self)
