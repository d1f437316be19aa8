"""Per-layer gradient statistics: a few sums per variable in the graph, the table on the host.

A statistics step returns two small tensors: per measured variable (the trainable weights
of the layers that have weights) the sums of ``RAW_COLUMNS``, and per measured layer output
its mean and mean square. :meth:`StatsPlan.table` adds them up into one row per layer and
derives ``STAT_COLUMNS`` with NumPy on the host: tens of microseconds there, against the
graph ops that the same folding costs inside every statistics step.

The sums are taken per *group* of variables, in one of three ways (``MODES``):

* ``grouped`` (the GPU default): variables of one shape are stacked and reduced together,
  so a 100-layer net costs tens of kernel launches instead of thousands.
* ``per_variable``: each variable is reduced where it lies. On a CPU an op costs a few
  microseconds to dispatch, and stacking a 100-layer net's kernels copies 4 MB that no
  cache holds; but a bias costs as many ops as a kernel.
* ``small_grouped`` (the CPU default): variables of at most ``SMALL`` entries (biases,
  small kernels) are stacked by shape, larger ones reduced where they lie. Measured on
  the 100-layer SELU net (``docs/benchmarks.md``): +2.4 ms a statistics step, against
  +3.4 ms per variable and +2.5 ms grouped; on the 3-layer base model +0.45 / +0.56 /
  +0.53 ms.

All three measure the same figures (a test holds them to each other). The update/weight
ratio ``||W after - W before|| / ||W after||`` takes the update from what the optimizer
added (:mod:`tuitrain.engine.increments`) where every change goes through the optimizer's
assign methods, else from a copy of the weights taken before the update (``tf.stack``
always allocates; a plain read of a variable could alias the buffer that the update
writes). Non-finite gradient entries are counted only when some gradient's sum of squares
is not finite, so the usual step does not pay for them.

A *core* plan (``full=False``) takes only the gradient's norm, sum and zeros (and the
non-finite count): the figures of ``events.CORE_COLUMNS``. The engine uses it for the
statistics steps between full ones (``stats.full_every``); the table leaves the other
columns NaN.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import tensorflow as tf

from tuitrain.engine.events import STAT_COLUMNS

N_COLS = len(STAT_COLUMNS)
# Per-variable sums returned by the graph, in this order.
# Norms rather than sums of squares: one single-pass op each (squared on the host).
RAW_COLUMNS = ("norm", "sum", "zeros", "max", "min", "wnorm", "updnorm", "nonfinite")
_NORM, _SUM, _ZEROS, _MAX, _MIN, _WNORM, _UPDNORM, _NONFINITE = range(len(RAW_COLUMNS))
_SQUARED = [_NORM, _WNORM, _UPDNORM]          # squared before they are added up
_SUMMED = [_NORM, _SUM, _ZEROS, _WNORM, _UPDNORM, _NONFINITE]   # added up over a row
# What a core statistics step (``full=False``) returns: no max/min, weights or update.
_CORE_RAW = [_NORM, _SUM, _ZEROS, _NONFINITE]
_EPS = 1e-12
MODES = ("per_variable", "small_grouped", "grouped")
# small_grouped: variables of at most this many entries are stacked by shape.
SMALL = 4096


def default_mode() -> str:
    """``grouped`` where a GPU is visible (few kernel launches), else ``small_grouped``."""
    return "grouped" if tf.config.list_physical_devices("GPU") else "small_grouped"


class StatsPlan:
    """Which variables feed which row; built eagerly, before the variant is traced."""

    def __init__(self, stat_layers, weights, mode: str | None = None, full: bool = True):
        self.mode = mode or default_mode()
        # full: every RAW_COLUMNS figure; else the core ones (events.CORE_COLUMNS), the
        # step that most statistics steps take when ``stats.full_every`` > ``stats.every``.
        self.full = full
        if self.mode not in MODES:
            raise ValueError(f"statistics mode must be one of {MODES}")
        index = {id(w): i for i, w in enumerate(weights)}
        self.n_rows = len(stat_layers)
        row_of: dict[int, int] = {}
        for r, layer in enumerate(stat_layers):
            for w in layer.trainable_weights:
                if id(w) in index:
                    row_of[index[id(w)]] = r
        # Groups of variables reduced together (a group of one: reduced in place);
        # the graph returns their sums in this order.
        groups: dict[object, list[int]] = defaultdict(list)
        for i in sorted(row_of):
            shape = tuple(weights[i].shape)
            size = int(np.prod(shape))
            stacked = self.mode == "grouped" or (self.mode == "small_grouped" and size <= SMALL)
            groups[shape if stacked else ("var", i)].append(i)
        # Groups of one first: their scalars are stacked with a single op.
        self.groups = sorted(groups.values(), key=lambda g: len(g) > 1)
        self.order = [i for g in self.groups for i in g]
        rows = np.array([row_of[i] for i in self.order], dtype=np.int64)
        sizes = np.zeros(self.n_rows)
        for i in self.order:
            sizes[row_of[i]] += float(np.prod(weights[i].shape))
        # Folding into rows: the variables sorted by row, and where each row's run starts.
        self._perm = np.argsort(rows, kind="stable")
        by_row = rows[self._perm]
        self._starts = np.flatnonzero(np.r_[True, np.diff(by_row) != 0]) if len(rows) else rows
        self._row_ids = by_row[self._starts]
        self._sizes = sizes[self._row_ids]   # entries per measured row
        self.act_rows: list[int] = []
        self.update_from = ""   # "increments" or "snapshot", once the step is traced

    # -- in the graph ----------------------------------------------------------------
    def snapshot(self, weights) -> list[tf.Tensor]:
        """Copies of the measured weights as they are now (before the optimizer's update).

        A group of one keeps its variable's shape, with a leading axis of 1.
        """
        return [_stack([weights[i].value for i in g]) if len(g) > 1
                else tf.stack([tf.cast(weights[g[0]].value, tf.float32)]) for g in self.groups]

    def var_sums(self, grads, weights, before=None, recorder=None) -> tf.Tensor:
        """[measured variables x RAW_COLUMNS] in ``self.order`` (a core plan: the
        ``_CORE_RAW`` columns only; ``before`` and ``recorder`` are not used).

        The update is ``W - before`` (``before`` from :meth:`snapshot`), or what
        ``recorder`` (an :class:`~tuitrain.engine.increments.IncrementRecorder`) caught the
        optimizer adding.
        """
        scalars, parts, grad_sets = [], [], []
        for k, g in enumerate(self.groups):
            if len(g) > 1:
                G = _stack([grads[i] for i in g])
                if not self.full:
                    parts.append(tf.stack(_core(G, 1), axis=1))
                else:
                    W = _stack([weights[i].value for i in g])
                    upd = (_stack([recorder.increment(i, weights[i]) for i in g]) if recorder
                           else W - before[k])
                    parts.append(tf.stack(_full(G, W, upd, 1), axis=1))
            else:
                i = g[0]
                G = tf.cast(grads[i], tf.float32)
                if not self.full:
                    scalars += _core(G, None)
                else:   # reduced where it lies: no copy of the gradient
                    w = tf.cast(weights[i].value, tf.float32)
                    upd = recorder.increment(i, weights[i]) if recorder else w - before[k]
                    scalars += _full(G, w, upd, None)
            grad_sets.append(G)
        width = (len(RAW_COLUMNS) if self.full else len(_CORE_RAW)) - 1   # nonfinite: below
        if scalars:
            parts.insert(0, tf.reshape(tf.stack(scalars), [-1, width]))
        table = tf.concat(parts, 0)
        norms = table[:, _NORM]

        def count():
            return tf.concat([_count_nonfinite(G, stacked=len(g) > 1)
                              for g, G in zip(self.groups, grad_sets)], 0)

        nonfinite = tf.cond(tf.reduce_all(tf.math.is_finite(norms)),
                            lambda: tf.zeros_like(norms), count)
        return tf.concat([table, nonfinite[:, None]], axis=1)

    def act_sums(self, acts_by_row: dict[int, tf.Tensor]) -> tf.Tensor:
        """[measured layers x 2]: mean and mean square of each layer's output.

        Outputs of one shape (a deep net's hidden layers) are stacked and reduced together:
        a copy of a few kB per layer instead of a handful of ops per layer.
        """
        groups: dict[tuple, list[int]] = defaultdict(list)
        for r in sorted(acts_by_row):
            groups[tuple(acts_by_row[r].shape)].append(r)
        self.act_rows = [r for g in groups.values() for r in g]
        if not self.act_rows:
            return tf.zeros([0, 2], tf.float32)
        parts = []
        for g in groups.values():
            a = _stack([acts_by_row[r] for r in g])
            parts.append(tf.stack([tf.reduce_mean(a, 1), tf.reduce_mean(tf.square(a), 1)], 1))
        return tf.concat(parts, 0)

    # -- on the host -----------------------------------------------------------------
    def table(self, var_sums, act_sums=None) -> np.ndarray:
        """Rows of STAT_COLUMNS (n_rows x N_COLS) from the step's two tensors; NaN = not measured."""
        out = np.full((self.n_rows, N_COLS), math.nan)
        if len(self.order):
            v = np.asarray(var_sums, dtype=np.float64)
            if not self.full:   # the figures a core step does not take: NaN
                v = np.full((len(v), len(RAW_COLUMNS)), math.nan)
                v[:, _CORE_RAW] = np.asarray(var_sums, dtype=np.float64)
            v = v[self._perm]
            v[:, _SQUARED] **= 2
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                sums = np.add.reduceat(v[:, _SUMMED], self._starts, axis=0)
                big = np.maximum.reduceat(np.maximum(v[:, _MAX], -v[:, _MIN]), self._starts)
                sumsq, total, zeros, wsq, updsq, nonfinite = sums.T
                n = self._sizes
                mean = total / n
                std = np.sqrt(np.maximum(sumsq / n - mean * mean, 0.0))
                wnorm = np.sqrt(wsq)
                out[self._row_ids, :8] = np.stack([
                    np.sqrt(sumsq), mean, std, big, zeros / n, nonfinite,
                    wnorm, np.sqrt(updsq) / (wnorm + _EPS)], axis=1)
        if act_sums is not None and self.act_rows:
            a = np.asarray(act_sums, dtype=np.float64)
            rows = np.array(self.act_rows)
            out[rows, 8] = a[:, 0]
            out[rows, 9] = np.sqrt(np.maximum(a[:, 1] - a[:, 0] ** 2, 0.0))
        return out


def _core(G: tf.Tensor, axis: int | None) -> list[tf.Tensor]:
    """Norm, sum and zeros of ``G`` (per row with ``axis=1``): a core step's figures."""
    return [
        tf.math.reduce_euclidean_norm(G, axis),
        tf.reduce_sum(G, axis),
        tf.reduce_sum(tf.cast(tf.equal(G, 0.0), tf.float32), axis),
    ]


def _full(G: tf.Tensor, W: tf.Tensor, upd: tf.Tensor, axis: int | None) -> list[tf.Tensor]:
    """RAW_COLUMNS up to (not including) nonfinite."""
    return _core(G, axis) + [
        tf.reduce_max(G, axis),
        tf.reduce_min(G, axis),
        tf.math.reduce_euclidean_norm(W, axis),
        tf.math.reduce_euclidean_norm(upd, axis),
    ]


def _count_nonfinite(G: tf.Tensor, stacked: bool) -> tf.Tensor:
    bad = tf.cast(~tf.math.is_finite(G), tf.float32)
    return tf.reduce_sum(bad, 1) if stacked else tf.reduce_sum(bad)[None]


def _stack(tensors) -> tf.Tensor:
    """k same-shaped tensors as a float32 [k, n] matrix (always a copy)."""
    x = tf.stack([tf.cast(t, tf.float32) for t in tensors])
    return tf.reshape(x, [len(tensors), -1])
