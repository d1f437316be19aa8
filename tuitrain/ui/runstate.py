"""RunState: the Textual-free view model of one run, built by applying its events.

The live dashboard applies events from the training thread; review and attach apply the
same events read from a run folder. Every widget draws from a RunState only, so anything
the live view shows, review can show. Series are bounded and decimated (see
:mod:`tuitrain.ui.series`), so memory stays bounded however long the run is.

``changes`` collects the panels touched since the last :meth:`take_changes`, so the UI
redraws only what changed: "header", "curves", "lr", "grads", "log".
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import numpy as np

from tuitrain.engine.events import (
    STAT_COLUMNS, Alert, Checkpoint, ControlApplied, EpochEnd, Evaluated, Event, GradStats,
    RunEnded, RunStarted, Step, not_core,
)
from tuitrain.ui.journal import LogLine, Marker, describe_control, epoch_line
from tuitrain.ui.series import Series

LIVE_STATES = ("starting", "running", "paused", "stopping")
ENDED_STATES = ("finished", "stopped", "failed", "interrupted", "crashed")
# The columns a core statistics step (GradStats.core_only) does not measure.
_NOT_CORE = not_core()


def _f(x: Any) -> float:
    """JSON null (NaN in the log) back to a float."""
    return math.nan if x is None else float(x)


class RunState:
    """Everything the views draw, for one run."""

    def __init__(self, capacity: int = 1024, grad_capacity: int = 256, log_lines: int = 2000):
        self.run_id = ""
        self.preset: dict[str, Any] = {}
        self.layers: list[str] = []
        self.layer_info: list[dict[str, Any]] = []
        self.device = ""
        self.strategy = ""
        self.steps_per_epoch = 0
        self.epochs = 0
        self.batch_size = 0
        self.total_params = 0
        self.state = "starting"
        self.reason = ""            # why the run ended (failed / stopped)
        self.step = 0
        self.epoch = 0
        self.loss = math.nan
        self.accuracy: float | None = None
        self.lr = math.nan
        self.clip_mode = "off"
        self.clip_threshold = math.nan
        self.grad_norm = math.nan
        self.samples_per_s = 0.0
        self.started_t: float | None = None
        self.last_t: float | None = None
        self.ended_t: float | None = None
        self.paused_s = 0.0         # wall time spent paused (kept out of the ETA)
        self._paused_since: float | None = None
        self.pending: str | None = None  # a command sent from the UI, not applied yet
        self.schedule: dict[str, Any] = {"kind": "constant"}  # the schedule in force
        self.final_metrics: dict[str, float] = {}
        self.test_metrics: dict[str, float] = {}
        self.epoch_metrics: list[tuple[int, int, dict[str, float]]] = []  # (epoch, step, metrics)
        self.loss_s = Series(capacity)          # train loss, smoothed (EMA)
        self.acc_s = Series(capacity)           # train accuracy, smoothed (EMA)
        self.lr_s = Series(capacity, "last")    # lr as used at each step
        self.clip_s = Series(capacity, "last")  # clip threshold (NaN while off)
        self.gnorm_s = Series(capacity)         # global gradient norm before clipping
        self.grads = Series(grad_capacity, "array")  # per-sample (layers x columns) float32
        self.grad_step: int | None = None
        self.grad_latest: np.ndarray | None = None
        self.grad_latest_core = False   # grad_latest's costlier figures are from an earlier step
        self.grad_full_step: int | None = None   # the step of the last full sample
        self.frozen: list[bool] = []
        self.markers: deque[Marker] = deque(maxlen=500)
        self.log: deque[LogLine] = deque(maxlen=log_lines)
        self.log_seq = 0                        # lines ever logged (the widget appends new ones)
        self.alerts = 0
        self.checkpoints: list[str] = []
        self.notices: list[str] = []
        self.changes: set[str] = set()
        self._ema_loss: float | None = None
        self._ema_acc: float | None = None

    # -- derived ---------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def progress(self) -> float:
        total = self.total_steps
        return min(1.0, self.step / total) if total else 0.0

    def elapsed(self, now: float | None = None) -> float:
        if self.started_t is None:
            return 0.0
        end = self.ended_t if self.ended_t is not None else (now or time.time())
        return max(0.0, end - self.started_t)

    def eta(self) -> float | None:
        """Seconds left at the recent speed; None when unknown or ended."""
        if not self.live or not self.total_steps or self.samples_per_s <= 0 or not self.batch_size:
            return None
        steps_per_s = self.samples_per_s / self.batch_size
        return max(0, self.total_steps - self.step) / steps_per_s

    def stat(self, column: str, sample: np.ndarray | None = None) -> np.ndarray | None:
        """One STAT_COLUMNS column for all layers (latest sample by default)."""
        arr = self.grad_latest if sample is None else sample
        if arr is None:
            return None
        return arr[:, STAT_COLUMNS.index(column)]

    def take_changes(self) -> set[str]:
        changed, self.changes = self.changes, set()
        return changed

    # -- applying events ------------------------------------------------------------
    def apply(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        self.last_t = event.t

    def apply_all(self, events: list[Event]) -> None:
        """Apply events in order, except that runs of Step events go at once: the same
        result, cheaper. GradStats may sit among them (they touch none of the same fields)."""
        run: list[Step] = []
        for e in events:
            kind = type(e)
            if kind is Step:
                run.append(e)
                continue
            if kind is not GradStats and run:
                self._on_steps(run)
                run = []
            self.apply(e)
        if run:
            self._on_steps(run)

    def note(self, text: str, level: str = "info", t: float | None = None) -> None:
        self.log.append(LogLine(t or time.time(), level, text))
        self.log_seq += 1
        self.changes.add("log")

    def fail(self, reason: str) -> None:
        """The run died without a RunEnded event (the worker raised)."""
        if self.ended:
            return
        self.state, self.reason = "failed", reason
        self.ended_t = time.time()
        self.note(f"run failed: {reason}", "error")
        self.changes.update(("header", "log"))

    def _on_run_started(self, e: RunStarted) -> None:
        self.run_id, self.preset = e.run_id, e.preset
        self.layers, self.layer_info = list(e.layers), list(e.layer_info)
        self.device, self.strategy = e.device, e.strategy
        self.steps_per_epoch, self.epochs = e.steps_per_epoch, e.epochs
        self.total_params = e.total_params
        self.batch_size = int(e.preset.get("train", {}).get("batch_size", 32) or 32)
        self.started_t = e.t
        self.schedule = dict(e.preset.get("schedule") or {"kind": "constant"})
        self.state = "running"
        self.notices = list(e.notices)
        self.note(f"run {e.run_id} started on {e.device} ({e.total_params:,} params, "
                  f"{e.train_samples:,} train / {e.val_samples:,} val samples)", "info", e.t)
        for n in e.notices:
            self.note(n, "warning", e.t)
        self.changes.update(("header", "curves", "lr", "grads"))

    def _on_step(self, e: Step) -> None:
        self._on_steps([e])

    def _on_steps(self, steps: list[Step]) -> None:
        e = steps[-1]
        self.step, self.epoch = e.step, e.epoch
        self.loss, self.accuracy, self.lr = _f(e.loss), e.accuracy, _f(e.lr)
        self.clip_mode, self.clip_threshold = e.clip_mode, _f(e.clip_threshold)
        self.grad_norm = _f(e.grad_norm)
        for s in reversed(steps):
            if s.samples_per_s and s.samples_per_s > 0:
                self.samples_per_s = s.samples_per_s
                break
        if self.state == "starting":
            self.state = "running"
        self.last_t = max(self.last_t or 0.0, e.t)   # a GradStats in the run may be later
        # EMA smoothing; a non-finite loss is plotted as is (it must be seen), not smoothed in.
        xs = [s.step for s in steps]
        loss_x, loss_y, acc_x, acc_y = [], [], [], []
        ema_l, ema_a = self._ema_loss, self._ema_acc
        isfinite = math.isfinite
        for s in steps:
            loss = _f(s.loss)
            if isfinite(loss):
                ema_l = loss if ema_l is None else 0.9 * ema_l + 0.1 * loss
                loss_x.append(s.step)
                loss_y.append(ema_l)
            a = s.accuracy
            if a is not None and isfinite(a):
                a = float(a)
                ema_a = a if ema_a is None else 0.9 * ema_a + 0.1 * a
                acc_x.append(s.step)
                acc_y.append(ema_a)
        self._ema_loss, self._ema_acc = ema_l, ema_a
        self.loss_s.extend_xy(loss_x, loss_y)
        self.acc_s.extend_xy(acc_x, acc_y)
        self.lr_s.extend_xy(xs, [_f(s.lr) for s in steps])
        self.clip_s.extend_xy(xs, [math.nan if s.clip_mode == "off" else _f(s.clip_threshold)
                                   for s in steps])
        self.gnorm_s.extend_xy(xs, [_f(s.grad_norm) for s in steps])
        self.changes.update(("header", "curves", "lr"))

    def _on_grad_stats(self, e: GradStats) -> None:
        arr = np.array([[math.nan if v is None else v for v in row] for row in e.values],
                       dtype=np.float32).reshape(len(e.values), len(STAT_COLUMNS))
        last = self.grad_latest
        carried = e.core_only and last is not None and last.shape == arr.shape
        if carried:
            # The costlier figures were not taken at this step: the last ones taken hold
            # (the heatmap's update-ratio and activation views, the table's columns).
            arr[:, _NOT_CORE] = last[:, _NOT_CORE]
        self.grad_latest_core = bool(carried)
        if not e.core_only:
            self.grad_full_step = e.step
        self.grad_latest, self.grad_step = arr, e.step
        self.frozen = list(e.frozen)
        self.grads.append(e.step, arr)
        self.changes.add("grads")

    def _on_epoch_end(self, e: EpochEnd) -> None:
        self.epoch_metrics.append((e.epoch, e.step, dict(e.metrics)))
        self.note(epoch_line(e.epoch, e.metrics, e.duration_s), "epoch", e.t)
        self.changes.update(("header", "curves"))

    def _on_control(self, e: ControlApplied) -> None:
        cmd = e.command
        if cmd == "pause":
            self.state = "paused"
            self._paused_since = e.t
        elif cmd == "resume":
            if self._paused_since is not None:
                self.paused_s += max(0.0, e.t - self._paused_since)
            self._paused_since = None
            self.state = "running"
        elif cmd == "stop":
            self.state = "stopping"
        elif cmd == "set_schedule" and isinstance(e.args.get("schedule"), dict):
            self.schedule = dict(e.args["schedule"])
        if self.pending and (self.pending == cmd or cmd in ("stop",)):
            self.pending = None
        label = describe_control(cmd, e.args)
        if cmd not in ("pause", "resume", "stop", "checkpoint"):
            self.markers.append(Marker(e.step, cmd, label))
            self.changes.add("lr")
        if cmd != "checkpoint":   # the Checkpoint event that follows says it, with the path
            self.note(f"step {e.step}: {label} ({e.source})", "control", e.t)
        self.changes.add("header")

    def _on_alert(self, e: Alert) -> None:
        self.alerts += 1
        where = f" in layer {e.layer}" if e.layer else ""
        self.note(f"step {e.step}: {e.message}{where}", e.level, e.t)
        self.changes.add("header")

    def _on_checkpoint(self, e: Checkpoint) -> None:
        self.checkpoints.append(e.path)
        self.note(f"step {e.step}: checkpoint saved to {e.path}", "checkpoint", e.t)

    def _on_evaluated(self, e: Evaluated) -> None:
        self.test_metrics = dict(e.metrics)
        parts = [f"{k} {v:.4f}" for k, v in e.metrics.items() if isinstance(v, (int, float))]
        self.note("evaluation: " + ", ".join(parts), "info", e.t)

    def _on_run_ended(self, e: RunEnded) -> None:
        self.state, self.reason = e.status, e.reason
        self.step = max(self.step, e.step)
        self.ended_t = e.t
        self.final_metrics = dict(e.metrics)
        self.pending = None
        level = {"finished": "info", "stopped": "control"}.get(e.status, "error")
        self.note(f"run {e.status} at step {e.step}" + (f": {e.reason}" if e.reason else ""), level, e.t)
        self.changes.update(("header", "curves", "lr"))
