"""Bounded, decimated series for the views: a million steps stay a few hundred points.

:class:`Series` keeps at most ``capacity`` points. When it fills up, neighbouring points are
merged pairwise and the stride (how many raw points one stored point stands for) doubles;
new raw points are then accumulated ``stride`` at a time before one is stored, so old and
new parts of the curve have the same resolution. Memory is O(capacity) whatever the run
length, and appending is amortized O(1).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np


def _mean(values: list[Any]) -> Any:
    """Merge raw values: arithmetic mean of finite floats, NaN if none is finite."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _last(values: list[Any]) -> Any:
    return values[-1]


def _array_mean(values: list[Any]) -> Any:
    """Merge numpy arrays element-wise; a non-finite entry is kept, never averaged away."""
    stack = np.stack(values)
    finite = np.isfinite(stack)
    with np.errstate(all="ignore"):
        out = np.where(finite, stack, 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
    out = np.where(np.isinf(stack).any(axis=0), np.inf, out)
    out = np.where(np.isnan(stack).any(axis=0) & ~np.isinf(stack).any(axis=0), np.nan, out)
    return out.astype(stack.dtype, copy=False)


class Series:
    """x/y points, bounded to ``capacity`` by pairwise merging (x: the later of the pair)."""

    def __init__(self, capacity: int = 1024, merge: str | Callable[[list], Any] = "mean"):
        if capacity < 4 or capacity % 2:
            raise ValueError("capacity must be an even number >= 4")
        self.capacity = capacity
        self._merge = {"mean": _mean, "last": _last, "array": _array_mean}.get(merge, merge)  # type: ignore[arg-type]
        self.xs: list[float] = []
        self.ys: list[Any] = []
        self.stride = 1
        self._pending_x: list[float] = []
        self._pending_y: list[Any] = []
        self.count = 0  # raw points seen

    def append(self, x: float, y: Any) -> None:
        self.count += 1
        if self.stride == 1:
            self._store(x, y)
            return
        self._pending_x.append(x)
        self._pending_y.append(y)
        if len(self._pending_x) >= self.stride:
            self._store(self._pending_x[-1], self._merge(self._pending_y))
            self._pending_x, self._pending_y = [], []

    def _store(self, x: float, y: Any) -> None:
        self.xs.append(x)
        self.ys.append(y)
        self._halve_if_full()

    def _halve_if_full(self) -> None:
        """Full: merge neighbouring points pairwise and double the stride."""
        if len(self.xs) >= self.capacity:
            self.xs = self.xs[1::2]
            self.ys = [self._merge([a, b]) for a, b in zip(self.ys[0::2], self.ys[1::2])]
            self.stride *= 2

    def points(self) -> tuple[list[float], list[Any]]:
        """Stored points plus the partial bucket (so the newest value is always visible)."""
        if self._pending_x:
            return (self.xs + [self._pending_x[-1]], self.ys + [self._merge(self._pending_y)])
        return list(self.xs), list(self.ys)

    def last(self) -> tuple[float, Any] | None:
        xs, ys = self.points()
        return (xs[-1], ys[-1]) if xs else None

    def __len__(self) -> int:
        return len(self.xs) + (1 if self._pending_x else 0)

    def nearest(self, x: float) -> tuple[float, Any] | None:
        """The stored point whose x is closest to ``x`` (review's cursor)."""
        xs, ys = self.points()
        if not xs:
            return None
        i = int(np.searchsorted(np.asarray(xs), x))
        if i >= len(xs):
            i = len(xs) - 1
        elif i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
            i -= 1
        return xs[i], ys[i]

    def extend(self, pairs: Iterable[tuple[float, Any]]) -> None:
        for x, y in pairs:
            self.append(x, y)

    def extend_xy(self, xs: list[float], ys: list[Any]) -> None:
        """``append`` for each pair, in chunks (the live dashboard's many steps per batch)."""
        n, i = len(xs), 0
        self.count += n
        while i < n:
            if self.stride == 1:
                k = min(n - i, self.capacity - len(self.xs))
                self.xs += xs[i:i + k]
                self.ys += ys[i:i + k]
                i += k
                self._halve_if_full()
                continue
            k = min(n - i, self.stride - len(self._pending_x))
            self._pending_x += xs[i:i + k]
            self._pending_y += ys[i:i + k]
            i += k
            if len(self._pending_x) >= self.stride:
                self._store(self._pending_x[-1], self._merge(self._pending_y))
                self._pending_x, self._pending_y = [], []
