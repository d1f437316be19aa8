"""Per-layer gradient statistics: a few sums per variable in the graph, the table on the host.

A statistics step returns two small tensors: per measured variable (the trainable weights
of the layers that have weights) the sums of ``RAW_COLUMNS``, and per measured layer output
its mean and mean square. :meth:`StatsPlan.table` folds them into one row per layer and
derives ``STAT_COLUMNS`` with NumPy on the host: a few microseconds there, against the
graph ops that the same folding costs inside every statistics step.

The sums are taken in one of two ways, chosen by where the variables live:

* **per variable** (CPU): each gradient is reduced on its own, right after the backward
  pass produced it, so its reductions can run beside the rest of the backward pass. On a
  CPU an op costs a few microseconds to dispatch and a pass over a cached gradient little
  more, while stacking a 100-layer net's gradients copies 4 MB that no cache holds.
* **grouped by shape** (GPU): variables of one shape are stacked and reduced together, so
  a 100-layer net costs tens of kernel launches instead of thousands.

Both measure the same figures (a test holds them to each other). The update/weight ratio
needs the weights from before the optimizer's update: an explicit copy (``tf.stack``
always allocates; a plain read of a variable would alias the buffer the update writes).
Non-finite gradient entries are counted only when some gradient's sum of squares is not
finite, so the usual step does not pay for them.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import tensorflow as tf

from tuitrain.engine.events import STAT_COLUMNS

N_COLS = len(STAT_COLUMNS)
# Per-variable sums returned by the graph, in this order.
RAW_COLUMNS = ("sumsq", "sum", "zeros", "max", "min", "wsq", "updsq", "nonfinite")
_SUMSQ, _SUM, _ZEROS, _MAX, _MIN, _WSQ, _UPDSQ, _NONFINITE = range(len(RAW_COLUMNS))
_EPS = 1e-12
MODES = ("per_variable", "grouped")


def default_mode() -> str:
    """``grouped`` where a GPU is visible (few kernel launches), else ``per_variable``."""
    return "grouped" if tf.config.list_physical_devices("GPU") else "per_variable"


class StatsPlan:
    """Which variables feed which row; built eagerly, before the variant is traced."""

    def __init__(self, stat_layers, weights, mode: str | None = None):
        self.mode = mode or default_mode()
        if self.mode not in MODES:
            raise ValueError(f"statistics mode must be one of {MODES}")
        index = {id(w): i for i, w in enumerate(weights)}
        self.n_rows = len(stat_layers)
        row_of: dict[int, int] = {}
        for r, layer in enumerate(stat_layers):
            for w in layer.trainable_weights:
                if id(w) in index:
                    row_of[index[id(w)]] = r
        # Measured variables in the order the graph returns their sums.
        if self.mode == "grouped":
            groups: dict[tuple, list[int]] = defaultdict(list)
            for i in sorted(row_of):
                groups[tuple(weights[i].shape)].append(i)
            self.groups = list(groups.values())
            self.order = [i for g in self.groups for i in g]
        else:
            self.groups = []
            self.order = sorted(row_of)
        rows = np.array([row_of[i] for i in self.order], dtype=np.int64)
        self.rows = rows
        sizes = np.zeros(self.n_rows)
        for i in self.order:
            sizes[row_of[i]] += float(np.prod(weights[i].shape))
        self.has_grads = sizes > 0
        self.sizes = np.maximum(sizes, 1.0)
        # Folding is a matrix product: [rows x variables] of 0/1.
        self.fold = np.zeros((self.n_rows, len(self.order)))
        self.fold[rows, np.arange(len(self.order))] = 1.0
        self.act_rows: list[int] = []

    # -- in the graph ----------------------------------------------------------------
    def snapshot(self, weights) -> list[tf.Tensor]:
        """Copies of the measured weights as they are now (before the optimizer's update)."""
        if self.mode == "grouped":
            return [_stack([weights[i].value for i in g]) for g in self.groups]
        return [tf.stack([weights[i].value]) for i in self.order]

    def var_sums(self, grads, weights, before) -> tf.Tensor:
        """[measured variables x RAW_COLUMNS] in ``self.order``; ``before`` from :meth:`snapshot`."""
        if self.mode == "grouped":
            G = [_stack([grads[i] for i in g]) for g in self.groups]
            W = [_stack([weights[i].value for i in g]) for g in self.groups]
            per = [_group_sums(g, w, w0) for g, w, w0 in zip(G, W, before)]
            table = tf.concat(per, 0)
            sumsq = table[:, _SUMSQ]

            def count():
                return tf.concat([tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.float32), 1)
                                  for g in G], 0)
        else:
            cols: list[list[tf.Tensor]] = [[] for _ in range(_NONFINITE)]
            gs = [tf.cast(grads[i], tf.float32) for i in self.order]
            for g in gs:
                cols[_SUMSQ].append(tf.reduce_sum(tf.square(g)))
                cols[_SUM].append(tf.reduce_sum(g))
                cols[_ZEROS].append(tf.reduce_sum(tf.cast(tf.equal(g, 0.0), tf.float32)))
                cols[_MAX].append(tf.reduce_max(g))
                cols[_MIN].append(tf.reduce_min(g))
            for i, w0 in zip(self.order, before):
                w = tf.cast(weights[i].value, tf.float32)
                cols[_WSQ].append(tf.reduce_sum(tf.square(w)))
                cols[_UPDSQ].append(tf.reduce_sum(tf.square(w - tf.cast(w0[0], tf.float32))))
            table = tf.stack([tf.stack(c) for c in cols], axis=1)
            sumsq = table[:, _SUMSQ]

            def count():
                return tf.stack([tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.float32))
                                 for g in gs])
        nonfinite = tf.cond(tf.reduce_all(tf.math.is_finite(sumsq)),
                            lambda: tf.zeros_like(sumsq), count)
        return tf.concat([table, nonfinite[:, None]], axis=1)

    def act_sums(self, acts_by_row: dict[int, tf.Tensor]) -> tf.Tensor:
        """[measured layers x 2]: mean and mean square of each layer's output."""
        self.act_rows = sorted(acts_by_row)
        if not self.act_rows:
            return tf.zeros([0, 2], tf.float32)
        pairs = []
        for r in self.act_rows:
            a = tf.cast(acts_by_row[r], tf.float32)
            pairs.append(tf.stack([tf.reduce_mean(a), tf.reduce_mean(tf.square(a))]))
        return tf.stack(pairs)

    # -- on the host -----------------------------------------------------------------
    def table(self, var_sums, act_sums=None) -> np.ndarray:
        """Rows of STAT_COLUMNS (n_rows x N_COLS) from the step's two tensors; NaN = not measured."""
        v = np.asarray(var_sums, dtype=np.float64)
        out = np.full((self.n_rows, N_COLS), math.nan)
        if len(self.order):
            with np.errstate(invalid="ignore", over="ignore"):
                sums = self.fold @ v[:, [_SUMSQ, _SUM, _ZEROS, _WSQ, _UPDSQ, _NONFINITE]]
                big = np.full(self.n_rows, -math.inf)
                np.maximum.at(big, self.rows, np.maximum(v[:, _MAX], -v[:, _MIN]))
            sumsq, total, zeros, wsq, updsq, nonfinite = sums.T
            # A matrix product turns a NaN next to a zero into NaN everywhere in the row:
            # recompute the sums of rows with non-finite values one by one.
            bad = ~np.isfinite(sums).all(axis=1)
            for r in np.nonzero(bad)[0]:
                sel = v[self.rows == r]
                sumsq[r], total[r], zeros[r] = sel[:, _SUMSQ].sum(), sel[:, _SUM].sum(), sel[:, _ZEROS].sum()
                wsq[r], updsq[r], nonfinite[r] = sel[:, _WSQ].sum(), sel[:, _UPDSQ].sum(), sel[:, _NONFINITE].sum()
            n = self.sizes
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                mean = total / n
                std = np.sqrt(np.maximum(sumsq / n - mean * mean, 0.0))
                grad_cols = np.stack([
                    np.sqrt(sumsq), mean, std, big, zeros / n, nonfinite,
                    np.sqrt(wsq), np.sqrt(updsq) / (np.sqrt(np.maximum(wsq, 0.0)) + _EPS),
                ], axis=1)
            out[:, :8] = np.where(self.has_grads[:, None], grad_cols, math.nan)
        if act_sums is not None and self.act_rows:
            a = np.asarray(act_sums, dtype=np.float64)
            rows = np.array(self.act_rows)
            out[rows, 8] = a[:, 0]
            out[rows, 9] = np.sqrt(np.maximum(a[:, 1] - a[:, 0] ** 2, 0.0))
        return out


def _group_sums(G: tf.Tensor, W: tf.Tensor, W0: tf.Tensor) -> tf.Tensor:
    """[k x 7] per stacked variable: RAW_COLUMNS up to (not including) nonfinite."""
    return tf.stack([
        tf.square(tf.math.reduce_euclidean_norm(G, 1)),
        tf.reduce_sum(G, 1),
        tf.reduce_sum(tf.cast(tf.equal(G, 0.0), tf.float32), 1),
        tf.reduce_max(G, 1),
        tf.reduce_min(G, 1),
        tf.square(tf.math.reduce_euclidean_norm(W, 1)),
        tf.square(tf.math.reduce_euclidean_norm(W - W0, 1)),
    ], axis=1)


def _stack(tensors) -> tf.Tensor:
    """k same-shaped tensors as a float32 [k, n] matrix (always a copy)."""
    x = tf.stack([tf.cast(t, tf.float32) for t in tensors])
    return tf.reshape(x, [len(tensors), -1])
