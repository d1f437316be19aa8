"""Runs one preset's training in the calling thread and emits its events.

``Trainer(preset, sink=...).run()`` builds data, model and optimizer, trains with Keras'
``fit`` (the per-step work lives in :mod:`tuitrain.engine.hooks`), writes every event to
the run log and hands it to ``sink``, and always ends with a ``RunEnded`` event, whatever
happened: finished, stopped, interrupted, or failed (then the exception is re-raised so a
UI worker sees it).
"""

from __future__ import annotations

import gc
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from tuitrain.data import load_data
from tuitrain.engine import build
from tuitrain.engine.control import SCHEDULE_ADAPTER, Command, Control
from tuitrain.engine.device import apply_precision, choose_strategy, describe_devices
from tuitrain.engine.events import (
    Checkpoint, ControlApplied, Evaluated, Event, RunEnded, RunStarted,
)
from tuitrain.engine.hooks import EngineHooks
from tuitrain.engine.instrumented import InstrumentedSequential
from tuitrain.engine.schedules import make_schedule
from tuitrain.gil import short_switch_interval
from tuitrain.preset import Preset, preset_to_toml_dict
from tuitrain.runlog.channel import ChannelListener
from tuitrain.runlog.writer import RunWriter

Sink = Callable[[Event], None]


class Trainer:
    """One training run: call :meth:`run` from the thread that should do the work."""

    def __init__(self, preset: Preset, *, sink: Sink | None = None,
                 control: Control | None = None, logs_dir: str | Path = "logs",
                 headless: bool = False):
        self.preset = preset
        self.sink = sink
        self.control = control or Control()
        self.logs_dir = Path(logs_dir)
        self.headless = headless
        self.writer: RunWriter | None = None
        self.run_dir: Path | None = None
        self.step = 0
        self.epoch = 0
        self.epochs_done = 0
        self.epoch_started = time.time()
        self.lr: float | None = None
        self.paused = False
        self.interrupted = False      # set from a signal handler: a plain flag, no locks
        self.status: str | None = None
        self.reason = ""
        self.nonfinite_seen = False
        self.last_metrics: dict[str, float] = {}
        self.last_stats = None
        self.clip_mode = preset.clipping.mode
        self.clip_threshold = preset.clipping.threshold
        self.stats_every = preset.stats.every
        self.full_every = preset.stats.full_every
        self.last_full_stats: int | None = None   # the step of the last full statistics step
        self.batch_size = preset.train.batch_size

    # -- events ----------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if self.writer is not None:
            self.writer.emit(event)
        if self.sink is not None:
            self.sink(event)

    def journal(self, command: str, args: dict[str, Any], source: str) -> None:
        self.emit(ControlApplied(step=self.step, command=command, args=args, source=source))

    # -- the run -----------------------------------------------------------------------
    def run(self) -> RunEnded:
        """Train to the end (or until stopped); return the final event."""
        with short_switch_interval():
            return self._run()

    def _run(self) -> RunEnded:
        error: BaseException | None = None
        self.writer = RunWriter(self.logs_dir, preset_to_toml_dict(self.preset), self.preset.name)
        self.run_dir = self.writer.folder
        # Other processes (tuitrain attach, scripts) steer through the run folder.
        channel = ChannelListener(self.run_dir, self.control).start()
        try:
            self._setup()
            self._train()
            self.status = self.status or "finished"
            self._finish()
        except KeyboardInterrupt:
            self.status, self.reason = "interrupted", "keyboard interrupt"
        except Exception as exc:  # the log must say why; the caller still sees it
            error = exc
            self.status, self.reason = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            end = RunEnded(status=self.status or "failed", step=self.step, epoch=self.epochs_done,
                           reason=self.reason, metrics=self.last_metrics)
            channel.close()
            self.emit(end)
            self.writer.close()
            keras.mixed_precision.set_global_policy("float32")
            gc.unfreeze()   # the hooks froze the run's objects; let a later collection free them
        if error is not None:
            raise error
        return end

    def _setup(self) -> None:
        p = self.preset
        notices = list(p.advisories())
        precision_note = apply_precision(p.train)
        if precision_note:
            notices.append(precision_note)
        self.data = data = load_data(p.data)
        notices.extend(data.notices)
        self.strategy, strategy_name = choose_strategy(p.train)
        n_train = len(data.x_train)
        self.steps_per_epoch = max(1, math.ceil(n_train / p.train.batch_size))
        self.total_steps = self.steps_per_epoch * p.train.epochs
        self.schedule = make_schedule(p.schedule, base_lr=p.optimizer.learning_rate,
                                      steps_per_epoch=self.steps_per_epoch,
                                      total_steps=self.total_steps)
        keras.utils.set_random_seed(p.train.seed)
        with self.strategy.scope():
            self.model = build.build_model(p, model_cls=InstrumentedSequential,
                                           logs_dir=self.logs_dir)
            self._compile()
        self.model.set_clipping(self.clip_mode, self.clip_threshold)
        self.model.measure_activations = p.stats.activations
        self.initial_weights = self.model.get_weights() if p.train.restore_weights else None
        m = self.model
        self.emit(RunStarted(
            run_id=self.run_dir.name, preset=preset_to_toml_dict(p),
            layers=m.stat_layer_names(), layer_info=[_layer_info(l) for l in m.layers],
            total_params=int(m.count_params()),
            trainable_params=int(sum(np.prod(w.shape) for w in m.trainable_weights)),
            device=describe_devices(), strategy=strategy_name,
            steps_per_epoch=self.steps_per_epoch, epochs=p.train.epochs,
            train_samples=n_train, val_samples=len(data.x_valid), data_source=data.source,
            notices=notices, pid=os.getpid(),
        ))

    def _compile(self) -> None:
        p = self.preset
        self.optimizer = build.build_optimizer(p.optimizer, learning_rate=p.optimizer.learning_rate)
        self.model.compile(optimizer=self.optimizer, loss=build.loss_for(p),
                           metrics=build.metrics_for(p), jit_compile=False)
        # Trainable flags change only here (transfer's unfreeze recompiles): no need to
        # walk the layers on every statistics step.
        self.frozen = self.model.frozen_mask()
        self.lr = None  # a new optimizer: assign the schedule's lr on the next step

    def _train(self) -> None:
        p, d = self.preset, self.data
        freeze = p.model.transfer.freeze_epochs if p.model.transfer else 0
        phases = [(0, freeze), (freeze, p.train.epochs)] if freeze else [(0, p.train.epochs)]
        callbacks: list[keras.callbacks.Callback] = [EngineHooks(self)]
        if p.train.early_stopping:
            es = p.train.early_stopping
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
                restore_best_weights=es.restore_best_weights))
        validation = (d.x_valid, d.y_valid) if len(d.x_valid) else None
        for i, (start, end) in enumerate(phases):
            if self.status:
                break
            if i == 1:
                with self.strategy.scope():
                    build.set_reused_trainable(self.model, True)
                    self._compile()
                self.model.set_clipping(self.clip_mode, self.clip_threshold)
                self.journal("unfreeze", {"layers": build.reused_layer_count(self.model)},
                             "preset")
            self.model.fit(d.x_train, d.y_train, batch_size=p.train.batch_size, epochs=end,
                           initial_epoch=start, validation_data=validation,
                           shuffle=p.train.shuffle, verbose=0, callbacks=callbacks)
            if self.model.stop_training and not self.status:
                self.status, self.reason = "stopped", "early stopping"

    def _finish(self) -> None:
        p, d, m = self.preset, self.data, self.model
        if self.initial_weights is not None:
            m.set_weights(self.initial_weights)
        m.save(self.writer.model_path)
        if self.status != "finished" or not p.evaluation.test or not len(d.x_test):
            return
        res = m.evaluate(d.x_test, d.y_test, batch_size=max(p.train.batch_size, 256),
                         verbose=0, return_dict=True)
        metrics = {f"test_{k.replace('binary_accuracy', 'accuracy')}": float(v)
                   for k, v in res.items()}
        if p.evaluation.mc_dropout_samples:
            probs = build.mc_dropout_predict(m, d.x_test, p.evaluation.mc_dropout_samples)
            metrics["mc_test_accuracy"] = float(_accuracy(probs, d.y_test))
        self.last_metrics = {**self.last_metrics, **metrics}
        self.emit(Evaluated(step=self.step, metrics=metrics))

    # -- controls ----------------------------------------------------------------------
    def request_stop(self, status: str, source: str, reason: str) -> None:
        if self.model.stop_training:
            return
        self.model.stop_training = True
        self.status, self.reason, self.paused = status, reason, False
        self.journal("stop", {"status": status, "reason": reason}, source)

    def apply_commands(self, commands: list[Command]) -> None:
        for cmd in commands:
            self._apply(cmd)

    def _apply(self, cmd: Command) -> None:
        name, args, src = cmd.name, cmd.args, cmd.source
        if name == "pause":
            if not self.paused:
                self.paused = True
                self.journal("pause", {}, src)
        elif name == "resume":
            if self.paused:
                self.paused = False
                self.journal("resume", {}, src)
        elif name == "stop":
            self.request_stop("stopped", src, f"stopped by {src}")
        elif name in ("set_lr", "scale_lr"):
            old = float(self.lr if self.lr is not None else self.schedule.lr_at(self.step, self.epoch))
            new = args["lr"] if name == "set_lr" else old * args["factor"]
            self.schedule = self.schedule.rebased(self.step, self.epoch, new)
            self.journal(name, {**args, "lr_before": old, "lr": new}, src)
        elif name == "set_clip":
            self.clip_mode, self.clip_threshold = args["mode"], args["threshold"]
            self.model.set_clipping(self.clip_mode, self.clip_threshold)
            self.journal(name, dict(args), src)
        elif name == "set_schedule":
            cfg = SCHEDULE_ADAPTER.validate_python(args["schedule"])
            current = float(self.lr if self.lr is not None else self.preset.optimizer.learning_rate)
            self.schedule = make_schedule(
                cfg, base_lr=current, steps_per_epoch=self.steps_per_epoch,
                total_steps=max(1, self.total_steps - self.step), origin_step=self.step,
                origin_epoch=self.epoch, keep_lr=current if args.get("keep_lr", True) else None)
            self.journal(name, {**args, "describe": self.schedule.describe(),
                                "lr": self.schedule.lr_at(self.step, self.epoch)}, src)
        elif name == "checkpoint":
            self.save_checkpoint(src)

    def save_checkpoint(self, source: str) -> None:
        self.writer.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = self.writer.checkpoint_dir / f"step-{self.step:08d}.weights.h5"
        self.model.save_weights(path)
        rel = str(path.relative_to(self.writer.folder))
        self.journal("checkpoint", {"path": rel}, source)
        self.emit(Checkpoint(step=self.step, path=rel))


def _layer_info(layer: keras.layers.Layer) -> dict[str, Any]:
    try:
        shape = list(layer.output.shape)
    except Exception:  # layers without a symbolic output (rare in Sequential)
        shape = None
    return {"name": layer.name, "type": type(layer).__name__,
            "params": int(layer.count_params()) if layer.built else 0,
            "trainable": bool(layer.trainable), "output_shape": shape}


def _accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    if probs.shape[-1] == 1:
        pred = (probs[:, 0] > 0.5).astype(np.float32)
        return float(np.mean(pred == y.reshape(-1)))
    return float(np.mean(np.argmax(probs, axis=-1) == y.reshape(-1)))
