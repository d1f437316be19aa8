"""ScriptedRun: a synthetic training run with the Trainer's interface, for UI work and tests.

``ScriptedRun(preset, sink=..., control=..., logs_dir=...)`` has ``run()``, ``control`` and
``run_dir`` like :class:`tuitrain.engine.trainer.Trainer`, and emits a plausible event
stream (decreasing loss, per-layer gradient norms that shrink toward the input for ReLU
nets and stay level for SELU ones) without TensorFlow. Like the engine, it takes the
costlier figures at most every ``stats.full_every`` steps and marks the other samples
``core_only`` (those figures NaN). It honours the Control between
steps exactly as the engine does: commands are answered with ControlApplied events, and a
pause blocks in ``Control.wait()`` (no CPU, no sleeps). Events also go to
``run_dir/events.jsonl`` so the run-log checks work against it.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Callable

from tuitrain.engine.control import Control
from tuitrain.engine.events import (
    STAT_COLUMNS, Checkpoint, ControlApplied, EpochEnd, Event, GradStats, RunEnded,
    RunStarted, Step, not_core,
)

# The columns a core-only sample leaves unmeasured.
_NOT_CORE = not_core()


def scheduled_lr(sched: dict[str, Any], lr0: float, t: int, total: int) -> float:
    """A rough lr for the synthetic run (the engine has the real schedules)."""
    kind = sched.get("kind", "constant")
    if kind == "exponential":
        return lr0 * sched["decay_rate"] ** (t / sched["decay_steps"])
    if kind == "power":
        return lr0 / (1 + sched.get("decay_rate", 1.0) * t / sched["decay_steps"])
    if kind == "cosine":
        frac = min(1.0, t / sched["decay_steps"])
        a = sched.get("alpha", 0.0)
        return lr0 * ((1 - a) * 0.5 * (1 + math.cos(math.pi * frac)) + a)
    if kind == "lr_finder":
        return sched["min_lr"] * (sched["max_lr"] / sched["min_lr"]) ** (t / max(1, total))
    if kind == "one_cycle":
        top = sched["max_lr"]
        start = sched.get("start_lr") or top / 10
        half = max(1, total // 2)
        return start + (top - start) * (t / half if t < half else max(0.0, 2 - t / half))
    if kind == "piecewise":
        for b, v in zip(sched["boundaries"], sched["values"]):
            if t < b:
                return v
        return sched["values"][-1]
    return lr0


class ScriptedRun:
    """A fake Trainer: same constructor keywords, same run() / control / run_dir."""

    def __init__(self, preset: Any, sink: Callable[[Event], object], control: Control | None = None,
                 logs_dir: str | os.PathLike = "logs", *, steps_per_epoch: int = 40,
                 step_time: float = 0.01, n_layers: int | None = None,
                 fail_at: int | None = None, seed: int = 0):
        self.preset = preset.model_dump(mode="json") if hasattr(preset, "model_dump") else dict(preset)
        self.sink = sink
        self.control = control or Control()
        self.steps_per_epoch = steps_per_epoch
        self.step_time = step_time
        self.fail_at = fail_at
        self._rng = random.Random(seed)
        name = self.preset.get("name", "scripted")
        self.run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{os.getpid() % 1000:03d}"
        self.run_dir = Path(logs_dir) / self.run_id
        hidden = n_layers if n_layers is not None else _count_dense(self.preset)
        self.layers = [f"dense_{i}" for i in range(hidden)] + ["output"]
        acts = {str(l.get("activation", "")) for l in self.preset.get("model", {}).get("layers", [])}
        self.decay = 1.0 if "selu" in acts else 0.93   # ReLU-ish nets: gradients vanish inward
        opt = self.preset.get("optimizer", {})
        self.lr0 = float(opt.get("learning_rate", 0.001))
        self.schedule = self.preset.get("schedule", {"kind": "constant"})
        clip = self.preset.get("clipping", {"mode": "off", "threshold": 1.0})
        self.clip_mode, self.clip_threshold = clip.get("mode", "off"), float(clip.get("threshold", 1.0))
        stats = self.preset.get("stats", {})
        self.stats_every = int(stats.get("every", 10))
        self.full_every = int(stats.get("full_every", 10))
        self._last_full: int | None = None
        self._log = None
        self.paused = False

    def _emit(self, event: Event) -> None:
        if self._log is not None:
            self._log.write(json.dumps(event.to_dict()) + "\n")
            self._log.flush()
        self.sink(event)

    def run(self) -> RunEnded:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "events.jsonl", "a", encoding="utf-8") as self._log:
            try:
                return self._run()
            except Exception as exc:
                ended = RunEnded(status="failed", step=self._step, epoch=self._epoch,
                                 reason=f"{type(exc).__name__}: {exc}")
                self._emit(ended)
                raise

    def _run(self) -> RunEnded:
        train = self.preset.get("train", {})
        epochs, bs = int(train.get("epochs", 10)), int(train.get("batch_size", 32))
        self._step, self._epoch = 0, 0
        total = epochs * self.steps_per_epoch
        self._emit(RunStarted(
            run_id=self.run_id, preset=self.preset, layers=self.layers,
            layer_info=[{"name": n, "type": "Dense", "params": 0, "trainable": True,
                         "output_shape": "?"} for n in self.layers],
            total_params=0, trainable_params=0, device="CPU (scripted)", strategy="default",
            steps_per_epoch=self.steps_per_epoch, epochs=epochs,
            train_samples=self.steps_per_epoch * bs, val_samples=bs * 4,
            data_source="synthetic", notices=["scripted run: synthetic events, no model"],
            pid=os.getpid()))
        self._scale, self._t0, self._total = 1.0, 0, total
        for self._epoch in range(epochs):
            t_epoch = time.time()
            for _ in range(self.steps_per_epoch):
                cmds = self.control.wait(self.step_time) if self.step_time else self.control.drain()
                if self._handle(cmds):
                    return self._end("stopped", "stop requested")
                self._one_step(self._lr(), bs)
            loss = 2.0 * math.exp(-self._step / 300) + 0.3
            self._emit(EpochEnd(epoch=self._epoch, step=self._step, lr=self._lr(),
                                duration_s=time.time() - t_epoch,
                                metrics={"loss": loss, "accuracy": 1 - loss / 2.6,
                                         "val_loss": loss * 1.1, "val_accuracy": 1 - loss * 1.1 / 2.6}))
        return self._end("finished", "")

    def _handle(self, cmds: list[Any]) -> bool:
        """Apply commands in order; True when the run must stop."""
        for cmd in cmds:
            if cmd.name == "stop":
                self._applied(cmd)
                return True
            if cmd.name == "pause" and not self.paused:
                self._applied(cmd)
                self.paused = True
                # Blocked in the queue's condition: no CPU while paused; other commands
                # sent meanwhile are applied at once, as the engine does.
                while self.paused:
                    if self._handle(self.control.wait()):
                        return True
                continue
            if cmd.name == "resume":
                if self.paused:
                    self.paused = False
                    self._applied(cmd)
                continue
            if cmd.name == "set_lr":
                self.lr0, self._scale = cmd.args["lr"], 1.0
                self.schedule, self._t0 = {"kind": "constant"}, self._step
            elif cmd.name == "scale_lr":
                self._scale *= cmd.args["factor"]
            elif cmd.name == "set_clip":
                self.clip_mode, self.clip_threshold = cmd.args["mode"], cmd.args["threshold"]
            elif cmd.name == "set_schedule":
                if cmd.args.get("keep_lr", True):
                    self.lr0 = self._lr()
                self.schedule, self._t0, self._scale = cmd.args["schedule"], self._step, 1.0
            self._applied(cmd)
            if cmd.name == "checkpoint":
                self._emit(Checkpoint(step=self._step, path=f"checkpoints/step{self._step}.weights.h5"))
        return False

    def _lr(self) -> float:
        return self._scale * scheduled_lr(self.schedule, self.lr0, self._step - self._t0, self._total)

    def _applied(self, cmd: Any) -> None:
        self._emit(ControlApplied(step=self._step, command=cmd.name, args=dict(cmd.args), source=cmd.source))

    def _one_step(self, lr: float, bs: int) -> None:
        self._step += 1
        if self.fail_at is not None and self._step >= self.fail_at:
            raise RuntimeError(f"scripted failure at step {self._step}")
        r = self._rng
        loss = 2.0 * math.exp(-self._step / 300) + 0.3 + r.gauss(0, 0.05)
        gnorm = abs(1.0 + r.gauss(0, 0.4))
        clipped = self.clip_mode != "off" and gnorm > self.clip_threshold
        self._emit(Step(step=self._step, epoch=self._epoch, loss=loss, accuracy=max(0.0, 1 - loss / 2.6),
                        lr=lr, clip_mode=self.clip_mode, clip_threshold=self.clip_threshold,
                        grad_norm=gnorm, clipped=clipped, samples_per_s=bs / max(self.step_time, 1e-3)))
        if self._step % self.stats_every == 0:
            n = len(self.layers)
            rows = []
            for i in range(n):
                norm = 0.05 * self.decay ** (n - 1 - i) * math.exp(r.gauss(0, 0.2))
                rows.append([norm, 0.0, norm / 10, norm / 3, 0.01 * (i % 5), 0.0, 5.0,
                             lr * norm / 5.0, 0.1, 0.8 * self.decay ** i + 0.05])
            assert len(rows[0]) == len(STAT_COLUMNS)
            # The engine's cadence: the costlier figures at most every full_every steps.
            core = self._last_full is not None and self._step - self._last_full < self.full_every
            if core:
                for row in rows:
                    for c in _NOT_CORE:
                        row[c] = math.nan
            else:
                self._last_full = self._step
            self._emit(GradStats(step=self._step, epoch=self._epoch, columns=list(STAT_COLUMNS),
                                 values=rows, frozen=[False] * n, core_only=core))

    def _end(self, status: str, reason: str) -> RunEnded:
        ended = RunEnded(status=status, step=self._step, epoch=self._epoch, reason=reason)
        self._emit(ended)
        return ended


def _count_dense(preset: dict[str, Any]) -> int:
    layers = preset.get("model", {}).get("layers", [])
    return sum(int(l.get("repeat", 1)) for l in layers if l.get("type", "dense") == "dense") or 2
