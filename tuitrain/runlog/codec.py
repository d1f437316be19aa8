"""The run folder's file formats: JSON lines for events, binary records for the index.

``events.jsonl`` is the record of the run: one ``Event.to_dict()`` per line, with
``"kind"`` as the first key (so a line can be classified by its first bytes), non-finite
floats as the JSON strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (``json.dumps``
with ``allow_nan=True`` writes invalid JSON), and ``GradStats.values`` with 9 significant
digits, which round-trips float32 exactly and halves the size of the largest lines.

Two binary files index it, so a 1,000,000-step log loads without parsing text:

* ``steps.bin``: per Step, one little-endian float64 record of ``STEP_COLUMNS``
  (accuracy None as NaN, clipped as 0/1);
* ``index.bin``: per non-step line, ``(offset, length, step, kind code, steps before)``;
  after each batch a commit record ``(end offset, 0, -1, COMMIT, steps so far)``.

Per batch the writer appends to steps.bin, then index.bin, then events.jsonl. A reader
trusts the index only up to the last commit whose end offset lies within the complete
lines of events.jsonl and reads the rest as text, so a crash at any point leaves the
three consistent where it matters. events.jsonl alone is always enough.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import fields
from typing import Any

import numpy as np

from tuitrain.engine.events import EVENT_TYPES, Event, GradStats, Step

EVENTS_FILE = "events.jsonl"
STEPS_FILE = "steps.bin"
INDEX_FILE = "index.bin"
PRESET_FILE = "preset.toml"
PID_FILE = "pid"
MODEL_FILE = "model.keras"
CHECKPOINT_DIR = "checkpoints"

STEP_COLUMNS: tuple[str, ...] = ("step", "epoch", "loss", "accuracy", "lr", "clip_threshold",
                                 "grad_norm", "clipped", "samples_per_s", "t")
STEP_RECORD = struct.Struct("<" + "d" * len(STEP_COLUMNS))
INDEX_RECORD = struct.Struct("<qqqqq")
INDEX_DTYPE = np.dtype([("offset", "<i8"), ("length", "<i8"), ("step", "<i8"),
                        ("kind", "<i8"), ("steps", "<i8")])
COMMIT = 0
KIND_CODES: dict[str, int] = {k: i + 1 for i, k in enumerate(EVENT_TYPES)}
GRAD_CODE = KIND_CODES["grad_stats"]

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# --- encoding ----------------------------------------------------------------------------
def _jsonable(obj: Any) -> Any:
    """Copy of ``obj`` with non-finite floats as strings and numpy values as Python ones."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, np.generic)):
        return _jsonable(obj.tolist())
    return obj


def _numpy_default(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _dumps(d: dict[str, Any]) -> str:
    try:
        # Common case: all finite. allow_nan=False makes the rare non-finite case raise
        # instead of writing invalid JSON, and only then do we pay for the deep copy.
        return json.dumps(d, allow_nan=False, default=_numpy_default)
    except ValueError:
        return json.dumps(_jsonable(d), allow_nan=False)


_GRAD_FORMATS: dict[tuple[int, ...], str] = {}


def _grad_values_json(values: Any) -> str | None:
    a = np.asarray(values, dtype=np.float32)  # None (null) becomes NaN
    if a.ndim != 2 or a.size == 0:
        return None
    fmt = _GRAD_FORMATS.get(a.shape)
    if fmt is None:
        row = "[" + ",".join(["%.9g"] * a.shape[1]) + "]"
        fmt = _GRAD_FORMATS[a.shape] = "[" + ",".join([row] * a.shape[0]) + "]"
    # One C-level format call for the whole table; %g spells non-finite values nan / inf.
    text = fmt % tuple(a.ravel().tolist())
    if "n" in text:
        text = (text.replace("nan", '"NaN"').replace("-inf", '"-Infinity"')
                .replace("inf", '"Infinity"'))
    return text


def encode_event(event: Event) -> str:
    """One JSON line (without the newline) for ``event``; ``kind`` first."""
    d: dict[str, Any] = {"kind": event.kind}
    d.update(vars(event))
    if isinstance(event, GradStats):
        values = _grad_values_json(d.pop("values"))
        if values is not None:
            return _dumps(d)[:-1] + ', "values": ' + values + "}"
        d["values"] = event.values
    return _dumps(d)


def _as_float(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def step_record(e: Step) -> bytes:
    """The steps.bin record of a Step."""
    row = (e.step, e.epoch, e.loss, e.accuracy, e.lr, e.clip_threshold, e.grad_norm,
           e.clipped, e.samples_per_s, e.t)
    try:
        return STEP_RECORD.pack(*row)
    except (TypeError, struct.error):  # None accuracy, numpy scalars
        return STEP_RECORD.pack(*(_as_float(v) for v in row))


def index_record(event: Event, offset: int, length: int, steps_before: int) -> bytes:
    """The index.bin record of a non-step line."""
    step = getattr(event, "step", -1)
    return INDEX_RECORD.pack(offset, length, step if isinstance(step, int) else -1,
                             KIND_CODES.get(event.kind, len(KIND_CODES) + 1), steps_before)


def commit_record(end_offset: int, steps: int) -> bytes:
    return INDEX_RECORD.pack(end_offset, 0, -1, COMMIT, steps)


# --- decoding ----------------------------------------------------------------------------
def _floats(x: Any) -> Any:
    """``x`` with the writer's non-finite strings turned back into floats, recursively."""
    if isinstance(x, str):
        return _NONFINITE.get(x, x)
    if isinstance(x, dict):
        return {k: _floats(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return x


# Only fields that can hold floats are decoded, so a message that reads "NaN" stays a string.
_FLOAT_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(cls)
                if ("float" in str(f.type) or f.name == "args") and f.name != "values")
    for kind, cls in EVENT_TYPES.items()
}
_FIELD_NAMES = {kind: {f.name for f in fields(cls)} for kind, cls in EVENT_TYPES.items()}


def decode_event(d: dict[str, Any]) -> Event | None:
    """An event from one parsed JSON line; None for an unknown kind or a malformed record."""
    kind = d.get("kind")
    if kind not in EVENT_TYPES:
        return None
    for name in _FLOAT_FIELDS[kind]:
        if name in d:
            d[name] = _floats(d[name])
    if kind == "grad_stats" and "values" in d:
        try:  # via float32: exactly the values the engine measured
            d["values"] = np.asarray(d["values"], dtype=np.float32).tolist()
        except (TypeError, ValueError):
            return None
    names = _FIELD_NAMES[kind]
    try:
        return EVENT_TYPES[kind](**{k: v for k, v in d.items() if k in names})
    except TypeError:  # a required field missing: not something this version can use
        return None


def parse_line(line: bytes | str) -> Event | None:
    """The event on one line, or None (blank, torn, unknown kind)."""
    try:
        d = json.loads(line)
    except ValueError:
        return None
    return decode_event(d) if isinstance(d, dict) else None
