"""Per-layer gradient statistics as one small tensor, computed with few graph ops.

On a CPU the cost of a statistics step is dominated by per-op dispatch, not arithmetic:
ten reductions for each of 202 variables is two thousand tiny ops. So variables of the
same shape (the 99 hidden kernels of a 100-layer net, say) are stacked and reduced
together, and the per-variable sums are folded into per-layer rows with segment sums over
vectors of a few hundred numbers. A 100-layer net then costs tens of ops, not thousands.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import tensorflow as tf

from tuitrain.engine.events import STAT_COLUMNS

N_COLS = len(STAT_COLUMNS)
_EPS = 1e-12


class StatsPlan:
    """Which variables feed which row, grouped by shape; built once per traced variant."""

    def __init__(self, stat_layers, weights):
        index = {id(w): i for i, w in enumerate(weights)}
        self.n_rows = len(stat_layers)
        row_of = {}
        for r, layer in enumerate(stat_layers):
            for w in layer.trainable_weights:
                if id(w) in index:
                    row_of[index[id(w)]] = r
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, w in enumerate(weights):
            if i in row_of:
                groups[tuple(w.shape)].append(i)
        self.groups = list(groups.values())
        order = [i for g in self.groups for i in g]
        self.segments = tf.constant([row_of[i] for i in order], tf.int32)
        sizes = np.zeros(self.n_rows)
        for i in order:
            sizes[row_of[i]] += float(np.prod(weights[i].shape))
        self.has_grads = tf.constant(sizes > 0)
        self.sizes = tf.constant(np.maximum(sizes, 1.0), tf.float32)

    def snapshot(self, weights) -> list[tf.Tensor]:
        """The grouped weight values now (call before the optimizer applies the update)."""
        return [_stack([weights[i].value for i in g]) for g in self.groups]

    def compute(self, grads, weights, before, acts_by_row: dict[int, tf.Tensor]) -> tf.Tensor:
        """Rows of STAT_COLUMNS (n_rows x N_COLS); ``before`` comes from :meth:`snapshot`."""
        feats = defaultdict(list)
        for g_idx, w0 in zip(self.groups, before):
            G = _stack([grads[i] for i in g_idx])
            W = _stack([weights[i].value for i in g_idx])
            feats["sumsq"].append(tf.reduce_sum(tf.square(G), 1))
            feats["sum"].append(tf.reduce_sum(G, 1))
            feats["max"].append(tf.reduce_max(tf.abs(G), 1))
            feats["zeros"].append(tf.reduce_sum(tf.cast(tf.equal(G, 0.0), tf.float32), 1))
            feats["nonfinite"].append(
                tf.reduce_sum(tf.cast(~tf.math.is_finite(G), tf.float32), 1))
            feats["wsq"].append(tf.reduce_sum(tf.square(W), 1))
            feats["w0sq"].append(tf.reduce_sum(tf.square(w0), 1))
            feats["upd"].append(tf.reduce_sum(tf.square(W - w0), 1))
        seg, rows = self.segments, self.n_rows

        def per_row(name, op=tf.math.unsorted_segment_sum):
            return op(tf.concat(feats[name], 0), seg, rows)

        n = self.sizes
        sumsq = per_row("sumsq")
        mean = per_row("sum") / n
        std = tf.sqrt(tf.maximum(sumsq / n - tf.square(mean), 0.0))
        cols = [
            tf.sqrt(sumsq), mean, std, per_row("max", tf.math.unsorted_segment_max),
            per_row("zeros") / n, per_row("nonfinite"), tf.sqrt(per_row("wsq")),
            tf.sqrt(per_row("upd")) / (tf.sqrt(per_row("w0sq")) + _EPS),
        ]
        nan = tf.fill([rows], math.nan)
        cols = [tf.where(self.has_grads, c, nan) for c in cols]
        cols.extend(self._activations(acts_by_row, nan))
        return tf.stack(cols, axis=1)

    def _activations(self, acts_by_row, nan):
        if not acts_by_row:
            return [nan, nan]
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for r, a in acts_by_row.items():
            by_shape[tuple(a.shape[1:])].append(r)
        idx, means, stds = [], [], []
        for rs in by_shape.values():
            A = _stack([acts_by_row[r] for r in rs])
            m = tf.reduce_mean(A, 1)
            means.append(m)
            stds.append(tf.sqrt(tf.maximum(tf.reduce_mean(tf.square(A), 1) - tf.square(m), 0.0)))
            idx.extend(rs)
        where = tf.constant([[r] for r in idx], tf.int32)
        return [tf.tensor_scatter_nd_update(nan, where, tf.concat(means, 0)),
                tf.tensor_scatter_nd_update(nan, where, tf.concat(stds, 0))]


def _stack(tensors) -> tf.Tensor:
    """k same-shaped tensors as a float32 [k, n] matrix."""
    x = tf.stack([tf.cast(t, tf.float32) for t in tensors])
    return tf.reshape(x, [len(tensors), -1])
