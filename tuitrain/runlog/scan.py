"""Reading ``events.jsonl`` as text, fast: the reader's path where no index applies.

``scan_events`` reads the file from an offset in 16 MiB chunks. Step lines in the writer's
exact layout are matched by one regular expression per chunk and converted column-wise by
numpy (no JSON parse, no Python loop per line); step lines in any other layout are parsed
as JSON. Gradient-stat lines are only indexed (offset, length, step); the remaining lines
are decoded into events. A torn last line is reported, not decoded; blank and damaged lines
are skipped.
"""

from __future__ import annotations

import json
import math
import operator
import re
from typing import Any, BinaryIO

import numpy as np

from tuitrain.engine.events import Event
from tuitrain.runlog.codec import STEP_COLUMNS, decode_event

CHUNK = 1 << 24
GRAD_PREFIX = b'{"kind": "grad_stats",'
STEP_NUMBER = re.compile(rb'"step": (-?\d+)')
_STEP_MARK = b'\n{"kind": "step",'
_STEP_LINE = re.compile(
    rb'\n\{"kind": "step", "t": ([^,]+), "step": ([^,]+), "epoch": ([^,]+), '
    rb'"loss": ([^,]+), "accuracy": ([^,]+), "lr": ([^,]+), "clip_mode": "[a-z_]*", '
    rb'"clip_threshold": ([^,]+), "grad_norm": ([^,]+), "clipped": (true|false), '
    rb'"samples_per_s": ([^,}]+)\}(?=\n)')
_FAST_ORDER = ("t", "step", "epoch", "loss", "accuracy", "lr", "clip_threshold", "grad_norm",
               "clipped", "samples_per_s")
_ANY_STEP_LINE = re.compile(rb'(?<=\n)\{"kind": "step",[^\n]*')
_NOT_STEP = re.compile(rb'\n(?!\{"kind": "step",)(?=[^\n])')
_TOKENS = ((b"null", b"nan"), (b'"NaN"', b"nan"), (b'"Infinity"', b"inf"),
           (b'"-Infinity"', b"-inf"))


def _to_float(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def parse_steps(lines: list[bytes]) -> np.ndarray:
    """Step lines as JSON -> float64 array [n, len(STEP_COLUMNS)]; bad lines dropped."""
    if not lines:
        return np.empty((0, len(STEP_COLUMNS)))
    try:
        dicts = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:  # a damaged line among them: find it the slow way
        dicts = []
        for line in lines:
            try:
                dicts.append(json.loads(line))
            except ValueError:
                pass
    dicts = [d for d in dicts if isinstance(d, dict)]
    try:
        rows = list(map(operator.itemgetter(*STEP_COLUMNS), dicts))
    except KeyError:
        rows = [tuple(d.get(c) for c in STEP_COLUMNS) for d in dicts]
    try:
        # numpy itself reads None as NaN and the strings "NaN" / "Infinity" as floats.
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(STEP_COLUMNS))
    except (ValueError, TypeError):
        return np.array([[_to_float(v) for v in row] for row in rows],
                        dtype=np.float64).reshape(len(rows), len(STEP_COLUMNS))


def _column(col: np.ndarray) -> np.ndarray:
    """Byte-string numbers, as the writer writes them -> float64."""
    try:
        return col.astype(np.float64)
    except ValueError:
        col = col.astype(f"S{max(col.itemsize, 4)}")
        for token, number in _TOKENS:
            col[col == token] = number
        try:
            return col.astype(np.float64)
        except ValueError:
            return np.array([_to_float(v) for v in col.tolist()])


class Scan:
    """What a scan found: step rows, events, and the index of gradient-stat lines."""

    def __init__(self) -> None:
        self.step_parts: list[np.ndarray] = []
        self.journal: list[Event] = []
        self.g_off: list[int] = []
        self.g_len: list[int] = []
        self.g_step: list[int] = []

    def count(self) -> int:
        return len(self.journal) + len(self.g_off) + sum(map(len, self.step_parts))

    def block(self, text: bytes, end: int, base: int) -> None:
        """The complete lines of ``text`` up to the newline at ``end``.

        ``text[0]`` is the newline before the first line, so every line follows a newline
        as the patterns expect; ``text[i]`` is byte ``base + i`` of the file. Windows
        (pos, endpos) rather than slices: no copies of the 16 MiB buffer.
        """
        n_steps = text.count(_STEP_MARK, 0, end)
        if n_steps and len(rows := _STEP_LINE.findall(text, 0, end + 1)) == n_steps:
            table = np.array(rows)
            cols = {name: (table[:, j] == b"true").astype(np.float64) if name == "clipped"
                    else _column(table[:, j]) for j, name in enumerate(_FAST_ORDER)}
            self.step_parts.append(np.column_stack([cols[c] for c in STEP_COLUMNS]))
        elif n_steps:  # some step line in another layout: this block's steps as JSON
            self.step_parts.append(parse_steps(_ANY_STEP_LINE.findall(text, 0, end)))
        for m in _NOT_STEP.finditer(text, 0, end):
            start = m.end()
            stop = text.index(b"\n", start)
            if text.startswith(GRAD_PREFIX, start):  # indexed now, parsed when asked
                n = STEP_NUMBER.search(text, start, min(start + 200, stop))
                if n and text[stop - 1] == 0x7D:  # ends with "}"
                    self.g_off.append(base + start), self.g_len.append(stop - start)
                    self.g_step.append(int(n[1]))
            else:
                self.line(text[start:stop], base + start)

    def line(self, line: bytes, pos: int) -> None:
        """One line that is neither a fast-path step nor a gradient-stat line."""
        try:
            d = json.loads(line)
        except ValueError:  # blank, torn or damaged
            return
        kind = d.get("kind") if isinstance(d, dict) else None
        if kind == "step":
            self.step_parts.append(parse_steps([line]))
        elif kind == "grad_stats" and isinstance(d.get("step"), int):
            self.g_off.append(pos), self.g_len.append(len(line)), self.g_step.append(d["step"])
        elif kind is not None:
            event = decode_event(d)
            if event is not None:
                self.journal.append(event)

    def steps_table(self) -> np.ndarray:
        parts = [p for p in self.step_parts if len(p)]
        if len(parts) == 1:  # the usual indexed case: no 80 MB copy per million steps
            return parts[0]
        return np.concatenate(parts) if parts else np.empty((0, len(STEP_COLUMNS)))


def scan_events(f: BinaryIO, start: int, scan: Scan) -> tuple[int, bool]:
    """Scan ``f`` from byte ``start`` (a line start) into ``scan``.

    Returns the end of the complete lines (where a follower continues) and whether an
    unfinished last line was dropped (a torn write).
    """
    f.seek(start)
    pos = start - 1   # file offset of buf[0]: the newline before the first line
    carry = b"\n"     # the last newline seen and the unfinished line after it
    while chunk := f.read(CHUNK):
        buf = carry + chunk
        cut = buf.rfind(b"\n")
        if cut > 0:
            scan.block(buf, cut, pos)
        carry = buf[cut:]
        pos += cut
    torn = False
    if carry[1:].strip():
        # Normally a torn write; a complete record without its newline is kept.
        before = scan.count()
        scan.line(carry[1:], pos + 1)
        torn = scan.count() == before
    return pos + 1, torn
