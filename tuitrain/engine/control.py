"""Thread-safe commands for a running training: the UI, signals and tests drive this.

Callers enqueue :class:`Command` objects from any thread; the engine drains the queue
between steps, applies each command and answers with a ``ControlApplied`` event, so the
run log is the truth about what happened and when. Arguments are validated here, with the
same pydantic models as presets, so a bad value is refused at the caller, never mid-run.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tuitrain.preset import Clipping, Schedule

COMMANDS = ("pause", "resume", "stop", "set_lr", "scale_lr", "set_clip", "set_schedule",
            "checkpoint")

SCHEDULE_ADAPTER: TypeAdapter = TypeAdapter(Schedule)


class ControlError(ValueError):
    """A command with a bad argument; ``str()`` is a one-line reason for the user."""


@dataclass(frozen=True)
class Command:
    """One request to change the run."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    source: str = "api"


def validate_command(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check a command's arguments; return them normalized (JSON-friendly)."""
    if name not in COMMANDS:
        raise ControlError(f"unknown command {name!r}")
    if name == "set_lr":
        lr = _positive(args.get("lr"), "lr")
        return {"lr": lr}
    if name == "scale_lr":
        return {"factor": _positive(args.get("factor"), "factor")}
    if name == "set_clip":
        try:
            clip = Clipping.model_validate(
                {k: v for k, v in args.items() if k in ("mode", "threshold")}
            )
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ControlError(f"{where}: {err['msg']}") from None
        return clip.model_dump()
    if name == "set_schedule":
        try:
            sched = SCHEDULE_ADAPTER.validate_python(args.get("schedule"))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"][1:]) or "schedule"
            raise ControlError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
        return {"schedule": sched.model_dump(mode="json"),
                "keep_lr": bool(args.get("keep_lr", True))}
    return {}


def _positive(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name}: not a number ({value!r})") from None
    if not math.isfinite(x) or x <= 0:
        raise ControlError(f"{name}: must be a positive number (got {value!r})")
    return x


class CommandSender:
    """The convenience verbs, shared by the in-process :class:`Control` and the remote one
    that writes to a run folder's control channel (:mod:`tuitrain.runlog.channel`)."""

    def send(self, name: str, source: str = "api", **args: Any) -> Command:
        raise NotImplementedError

    def pause(self, source: str = "api") -> Command:
        return self.send("pause", source)

    def resume(self, source: str = "api") -> Command:
        return self.send("resume", source)

    def stop(self, source: str = "api") -> Command:
        return self.send("stop", source)

    def set_lr(self, lr: float, source: str = "api") -> Command:
        return self.send("set_lr", source, lr=lr)

    def scale_lr(self, factor: float, source: str = "api") -> Command:
        return self.send("scale_lr", source, factor=factor)

    def set_clip(self, mode: str, threshold: float = 1.0, source: str = "api") -> Command:
        return self.send("set_clip", source, mode=mode, threshold=threshold)

    def set_schedule(self, schedule: Any, keep_lr: bool = True, source: str = "api") -> Command:
        if hasattr(schedule, "model_dump"):
            schedule = schedule.model_dump(mode="json")
        return self.send("set_schedule", source, schedule=schedule, keep_lr=keep_lr)

    def checkpoint(self, source: str = "api") -> Command:
        return self.send("checkpoint", source)


class Control(CommandSender):
    """The command queue between callers (any thread) and the engine (training thread)."""

    def __init__(self) -> None:
        self._queue: deque[Command] = deque()
        self._cond = threading.Condition()

    # -- callers ---------------------------------------------------------------------
    def send(self, name: str, source: str = "api", **args: Any) -> Command:
        """Validate and enqueue a command; raises :class:`ControlError` if it is bad."""
        cmd = Command(name, validate_command(name, args), source)
        with self._cond:
            self._queue.append(cmd)
            self._cond.notify_all()
        return cmd

    # -- engine ----------------------------------------------------------------------
    def pending(self) -> bool:
        """Cheap check the engine makes every step (no lock: a deque read is atomic)."""
        return bool(self._queue)

    def drain(self) -> list[Command]:
        """Take every queued command, oldest first."""
        with self._cond:
            cmds = list(self._queue)
            self._queue.clear()
        return cmds

    def wait(self, timeout: float | None = None) -> list[Command]:
        """Block (using no CPU) until a command arrives or ``timeout`` passes; drain."""
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            cmds = list(self._queue)
            self._queue.clear()
        return cmds
