"""How a run's events read in the event log and on the lr trace: its lines and markers.

:class:`LogLine` is one line of the event log, :class:`Marker` a control drawn on the lr
trace; :func:`describe_control` says what a control did in a few words, and
:func:`epoch_line` sums up an epoch. :class:`tuitrain.ui.runstate.RunState` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Marker:
    """A control that changed the run, drawn on the lr trace."""

    step: int
    command: str
    label: str


@dataclass(frozen=True)
class LogLine:
    """One line of the event log: when, how loud, what."""

    t: float
    level: str      # info / control / warning / error / checkpoint / epoch
    text: str


def _num(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, (int, float)) else str(x)


def describe_control(command: str, args: dict[str, Any]) -> str:
    """A control's effect in a few words, for the log and the lr markers."""
    if command == "set_lr":
        return f"lr = {_num(args.get('lr'))}"
    if command == "scale_lr":
        return f"lr x {_num(args.get('factor'))}"
    if command == "set_clip":
        mode = args.get("mode", "?")
        return "clipping off" if mode == "off" else f"clip {mode} {_num(args.get('threshold'))}"
    if command == "stop":
        return "stop requested"
    if command == "set_schedule":
        if args.get("describe"):
            return f"schedule {args['describe']}"
        sched = args.get("schedule")
        return f"schedule {sched.get('kind', '?') if isinstance(sched, dict) else sched}"
    if command == "schedule" and "lr" in args:
        return f"schedule: lr = {_num(args['lr'])}"
    extra = ", ".join(f"{k}={_num(v)}" for k, v in args.items() if not isinstance(v, (dict, list)))
    return f"{command} {extra}".strip()


def epoch_line(epoch: int, m: dict[str, float], duration_s: float) -> str:
    """``epoch 3 · train 0.4123 / 85.1% · val 0.4410 / 84.2% · 12.5s`` (loss / accuracy)."""
    def pair(prefix: str) -> str | None:
        loss, acc = m.get(prefix + "loss"), m.get(prefix + "accuracy")
        if loss is None and acc is None:
            return None
        bits = [f"{loss:.4f}" if loss is not None else "?"] + ([f"{acc:.1%}"] if acc is not None else [])
        return f"{prefix.rstrip('_') or 'train'} " + " / ".join(bits)
    parts = [p for p in (pair(""), pair("val_")) if p]
    return " · ".join([f"epoch {epoch + 1}", *parts, f"{duration_s:.1f}s"])
