"""``tuitrain run --headless``: train in the foreground, print epochs and a progress line.

Ctrl-C, SIGTERM and SIGHUP (a dropped SSH session) ask the engine to stop after the
current step, so the run log ends with status "interrupted"; a second Ctrl-C aborts at
once (the log still gets its end event).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from tuitrain.engine.events import (
    Alert, Checkpoint, ControlApplied, EpochEnd, Evaluated, Event, RunEnded, RunStarted, Step,
)
from tuitrain.preset import Preset

EXIT = {"finished": 0, "stopped": 0, "failed": 1, "interrupted": 130}


def _fmt(metrics: dict[str, float]) -> str:
    order = ("loss", "accuracy", "val_loss", "val_accuracy")
    keys = [k for k in order if k in metrics] + sorted(k for k in metrics if k not in order)
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys)


class ConsolePrinter:
    """An event sink that prints what a person watching a log scroll wants to see."""

    def __init__(self, out: TextIO = sys.stdout, progress_interval: float | None = None):
        self.out = out
        self.tty = out.isatty()
        # On a terminal the progress line redraws in place; in a log file, a line now and then.
        self.interval = progress_interval if progress_interval is not None else (
            0.2 if self.tty else 30.0)
        self.last = 0.0
        self.epochs = 0
        self.spe = 0
        self.partial = False
        self.dead = False

    def _line(self, text: str) -> None:
        if self.partial:
            self.out.write("\r\x1b[2K")
            self.partial = False
        self.out.write(text + "\n")
        self.out.flush()

    def __call__(self, ev: Event) -> None:
        if self.dead:
            return
        try:
            self._show(ev)
        except (OSError, ValueError):
            # The terminal went away (SSH dropped): keep training, the log has it all.
            self.dead = True

    def _show(self, ev: Event) -> None:
        if isinstance(ev, Step):
            now = time.monotonic()
            if now - self.last < self.interval:
                return
            self.last = now
            in_epoch = ev.step - ev.epoch * self.spe if self.spe else ev.step
            acc = f"  acc {ev.accuracy:.4f}" if ev.accuracy is not None else ""
            text = (f"  epoch {ev.epoch + 1}/{self.epochs}  step {in_epoch}/{self.spe}  "
                    f"loss {ev.loss:.4f}{acc}  lr {ev.lr:.3g}  {ev.samples_per_s:,.0f} samples/s")
            if self.tty:
                self.out.write("\r\x1b[2K" + text)
                self.out.flush()
                self.partial = True
            else:
                self._line(text)
        elif isinstance(ev, RunStarted):
            self.epochs, self.spe = ev.epochs, ev.steps_per_epoch
            self._line(f"run {ev.run_id}: {ev.total_params:,} params on {ev.device} "
                       f"({ev.strategy}); data: {ev.data_source}, {ev.train_samples:,} train / "
                       f"{ev.val_samples:,} validation")
            for note in ev.notices:
                self._line(f"notice: {note}")
        elif isinstance(ev, EpochEnd):
            self._line(f"epoch {ev.epoch + 1}/{self.epochs}  {_fmt(ev.metrics)}  "
                       f"lr {ev.lr:.3g}  {ev.duration_s:.1f}s")
        elif isinstance(ev, ControlApplied):
            args = " ".join(f"{k}={v}" for k, v in ev.args.items() if k != "schedule")
            self._line(f"step {ev.step}: {ev.command} ({ev.source}) {args}".rstrip())
        elif isinstance(ev, Alert):
            self._line(f"{ev.level}: step {ev.step}: {ev.message}")
        elif isinstance(ev, Checkpoint):
            self._line(f"checkpoint: {ev.path}")
        elif isinstance(ev, Evaluated):
            self._line(f"test: {_fmt(ev.metrics)}")
        elif isinstance(ev, RunEnded):
            why = f" ({ev.reason})" if ev.reason else ""
            self._line(f"{ev.status}{why} at step {ev.step}, epoch {ev.epoch}")


def run_headless(preset: Preset, *, logs_dir: str | Path = "logs",
                 out: TextIO = sys.stdout, **_: object) -> int:
    """Train ``preset`` in this thread, printing progress; return the exit status."""
    from tuitrain.engine.trainer import Trainer  # TensorFlow loads here, not at CLI start

    trainer = Trainer(preset, sink=ConsolePrinter(out), logs_dir=logs_dir, headless=True)
    presses = {"n": 0}

    def on_signal(signum, frame):
        presses["n"] += 1
        if signum == signal.SIGINT and presses["n"] > 1:
            raise KeyboardInterrupt
        trainer.interrupted = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # A detached run has no terminal to lose; an attached one stops cleanly when SSH drops.
    detached = os.environ.get("TUITRAIN_DETACHED") == "1"
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP,
                                            signal.SIG_IGN if detached else on_signal)
    try:
        end = trainer.run()
    except Exception as exc:
        print(f"tuitrain: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if trainer.run_dir:
            print(f"tuitrain: the run log is in {trainer.run_dir}", file=sys.stderr)
        return 1
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    print(f"log: {trainer.run_dir}", file=out)
    return EXIT.get(end.status, 1)
