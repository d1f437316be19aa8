"""Preset diffs for comparing runs: which fields differ, with each run's value.

``flatten`` turns a preset dict into dotted paths (``optimizer.learning_rate``,
``model.layers[0].activation``); ``preset_diff`` lists the paths whose values are not the
same in every run, in the order the presets declare them, the naming fields
(:data:`IDENTITY`) last. A field a run's preset does not
have (another optimizer's ``momentum``, a default left out of ``preset.toml``) reads as
:data:`MISSING`. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = "—"
# Fields that name a preset rather than change the run: listed after the others.
IDENTITY = ("name", "description", "chapter")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values; lists of tables are indexed, lists of values kept."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        if not value:
            out[prefix] = []
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) == float(b)     # 1 and 1.0 are the same learning rate
    return a == b


@dataclass(frozen=True)
class FieldDiff:
    """One preset field that differs: its path and each run's value (MISSING if absent)."""

    path: str
    values: tuple[Any, ...]


def preset_diff(presets: list[dict[str, Any]]) -> tuple[list[FieldDiff], int]:
    """(the differing fields, how many fields are equal in every run)."""
    flats = [flatten(p) for p in presets]
    order: dict[str, None] = {}
    for f in flats:
        order.update(dict.fromkeys(f))
    diffs, equal = [], 0
    for path in order:
        values = tuple(f.get(path, MISSING) for f in flats)
        first = values[0]
        if all(v is not MISSING and first is not MISSING and _same(v, first) for v in values):
            equal += 1
        else:
            diffs.append(FieldDiff(path, values))
    diffs.sort(key=lambda d: d.path in IDENTITY)   # stable: declaration order otherwise
    return diffs, equal


def show(value: Any, width: int = 40) -> str:
    """A preset value for a table cell, cut to ``width`` characters."""
    text = _show(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _show(value: Any) -> str:
    if value is MISSING:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
