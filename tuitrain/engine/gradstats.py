"""Per-layer gradient statistics as one small tensor, computed with few graph ops.

On a CPU the cost of a statistics step is per-op dispatch (a few microseconds each) plus
memory passes over the gradients and weights. Variables of the same shape (the 99 hidden
kernels of a 100-layer net, say) are stacked and reduced together with single-pass
reductions that make no temporary copy (``reduce_euclidean_norm``, ``reduce_sum``,
``reduce_max``/``reduce_min``); the per-variable figures are stacked into one matrix and
folded into layer rows with one segment sum. A 100-layer net costs tens of ops, not
thousands, and a few passes over its million weights. Non-finite entries are counted only
when some layer's sum of squares is not finite, so the usual step does not pay for them.
(Folding per element instead, with one segment sum over every weight, was measured and is
several times slower: segment sums over long vectors are slow on a CPU.)
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import tensorflow as tf

from tuitrain.engine.events import STAT_COLUMNS

N_COLS = len(STAT_COLUMNS)
_EPS = 1e-12
# Per-row sums gathered before the columns are derived.
_SUMSQ, _SUM, _ZEROS, _WSQ, _W0SQ, _UPDSQ = range(6)


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
        measured = [i for i in range(len(weights)) if i in row_of]
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i in measured:
            groups[tuple(weights[i].shape)].append(i)
        self.groups = list(groups.values())
        self.segments = tf.constant([row_of[i] for g in self.groups for i in g], tf.int32)
        sizes = np.zeros(self.n_rows)
        for i in measured:
            sizes[row_of[i]] += float(np.prod(weights[i].shape))
        self.has_grads = tf.constant(sizes > 0)
        self.sizes = tf.constant(np.maximum(sizes, 1.0), tf.float32)

    def snapshot(self, weights) -> list[tf.Tensor]:
        """The grouped weight values now (call before the optimizer applies the update)."""
        return [_stack([weights[i].value for i in g]) for g in self.groups]

    def compute(self, grads, weights, before, acts_by_row: dict[int, tf.Tensor]) -> tf.Tensor:
        """Rows of STAT_COLUMNS (n_rows x N_COLS); ``before`` comes from :meth:`snapshot`."""
        grouped = [_stack([grads[i] for i in g]) for g in self.groups]
        after = [_stack([weights[i].value for i in g]) for g in self.groups]
        seg, rows = self.segments, self.n_rows
        per_var = tf.concat([_group_sums(G, W, W0) for G, W, W0 in zip(grouped, after, before)], 0)
        sums = tf.math.unsorted_segment_sum(per_var[:, :6], seg, rows)
        max_abs = tf.math.unsorted_segment_max(per_var[:, 6], seg, rows)
        sumsq = sums[:, _SUMSQ]

        def count_nonfinite():
            counts = [tf.reduce_sum(tf.cast(~tf.math.is_finite(G), tf.float32), 1)
                      for G in grouped]
            return tf.math.unsorted_segment_sum(tf.concat(counts, 0), seg, rows)

        nonfinite = tf.cond(tf.reduce_all(tf.math.is_finite(sumsq)),
                            lambda: tf.zeros([rows], tf.float32), count_nonfinite)
        n = self.sizes
        mean = sums[:, _SUM] / n
        std = tf.sqrt(tf.maximum(sumsq / n - tf.square(mean), 0.0))
        grad_cols = tf.stack([
            tf.sqrt(sumsq), mean, std, max_abs, sums[:, _ZEROS] / n, nonfinite,
            tf.sqrt(sums[:, _WSQ]),
            tf.sqrt(sums[:, _UPDSQ]) / (tf.sqrt(sums[:, _W0SQ]) + _EPS),
        ], axis=1)
        grad_cols = tf.where(self.has_grads[:, None], grad_cols, math.nan)
        return tf.concat([grad_cols, self._activations(acts_by_row)], axis=1)

    def _activations(self, acts_by_row) -> tf.Tensor:
        """[n_rows x 2]: mean and std of each measured layer's output; NaN elsewhere."""
        nan = tf.fill([self.n_rows, 2], math.nan)
        if not acts_by_row:
            return nan
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for r, a in acts_by_row.items():
            by_shape[tuple(a.shape[1:])].append(r)
        rows, means, stds = [], [], []
        for rs in by_shape.values():
            A = _stack([acts_by_row[r] for r in rs])   # [layers x batch*units]
            m = tf.reduce_mean(A, 1)
            means.append(m)
            stds.append(tf.sqrt(tf.maximum(tf.reduce_mean(tf.square(A), 1) - tf.square(m), 0.0)))
            rows.extend(rs)
        m, std = tf.concat(means, 0), tf.concat(stds, 0)
        where = tf.constant([[r] for r in rows], tf.int32)
        return tf.tensor_scatter_nd_update(nan, where, tf.stack([m, std], axis=1))


def _group_sums(G: tf.Tensor, W: tf.Tensor, W0: tf.Tensor) -> tf.Tensor:
    """[k x 7] per stacked variable: the six sums of ``_SUMSQ..._UPDSQ``, then max |g|."""
    return tf.stack([
        tf.square(tf.math.reduce_euclidean_norm(G, 1)),
        tf.reduce_sum(G, 1),
        tf.reduce_sum(tf.cast(tf.equal(G, 0.0), tf.float32), 1),
        tf.square(tf.math.reduce_euclidean_norm(W, 1)),
        tf.square(tf.math.reduce_euclidean_norm(W0, 1)),
        tf.square(tf.math.reduce_euclidean_norm(W - W0, 1)),
        tf.maximum(tf.reduce_max(G, 1), -tf.reduce_min(G, 1)),
    ], axis=1)


def _stack(tensors) -> tf.Tensor:
    """k same-shaped tensors as a float32 [k, n] matrix."""
    x = tf.stack([tf.cast(t, tf.float32) for t in tensors])
    return tf.reshape(x, [len(tensors), -1])
