"""What the optimizer adds to each weight in a step, caught while its update is traced.

The update/weight ratio needs ``W after - W before``. Taking it as a difference costs a copy
of every weight before the update and a pass over both copies after it (about 16 MB of
memory traffic a step for a 100-layer net), and loses most of its digits: an update is
about 1e-4 of the weight, so float32's 7 digits leave 3. Keras' optimizers make every
change to a model variable through ``optimizer.assign``, ``assign_add`` or ``assign_sub``
(``update_step``), so :class:`IncrementRecorder` catches the tensors they pass while the
train step is traced and adds them up per variable: the exact update, at the cost of one
norm.

Some changes bypass those three methods and go to the variable directly: decoupled weight
decay (AdamW; TensorFlow's ``_apply_weight_decay``), kernel constraints (R28's max-norm),
moving averages that overwrite the weights, gradient accumulation, and per-replica copies
under a multi-device strategy. :func:`increments_apply` says when none of those can happen;
otherwise the statistics take the snapshot and the difference.
"""

from __future__ import annotations

from collections import defaultdict

import keras
import tensorflow as tf

# The optimizers whose update_step is known (read, and held to the snapshot by a test) to
# change the model's variables only through assign, assign_add and assign_sub.
KNOWN = (keras.optimizers.SGD, keras.optimizers.Adagrad, keras.optimizers.RMSprop,
         keras.optimizers.Adam, keras.optimizers.Adamax, keras.optimizers.Nadam,
         keras.optimizers.AdamW)


def increments_apply(optimizer, weights, strategy) -> bool:
    """True when every change the optimizer makes to ``weights`` goes through its assign methods."""
    if getattr(optimizer, "weight_decay", None):
        return False
    if getattr(optimizer, "use_ema", False) or getattr(optimizer, "gradient_accumulation_steps", None):
        return False
    if any(getattr(w, "constraint", None) is not None for w in weights):
        return False
    if strategy.num_replicas_in_sync != 1 or tf.distribute.has_strategy():
        return False
    return type(optimizer) in KNOWN


class IncrementRecorder:
    """Inside ``with``: the optimizer's assign methods also note what they add to ``weights``.

    The methods are replaced on the optimizer instance and restored on exit; this only
    runs while a train step is traced, so the recorded tensors belong to that graph.
    """

    def __init__(self, optimizer, weights):
        self._opt = optimizer
        self._index = {}
        for i, w in enumerate(weights):
            self._index[id(w)] = i
            self._index[id(getattr(w, "value", w))] = i
        # Per weight: (sign, tensor) for each change, in the order the update makes them.
        self._added: dict[int, list[tuple[float, tf.Tensor]]] = defaultdict(list)

    def __enter__(self) -> IncrementRecorder:
        opt = self._opt
        assign, assign_add, assign_sub = opt.assign, opt.assign_add, opt.assign_sub

        def rec_assign(variable, value):
            i = self._index.get(id(variable))
            if i is not None:   # a whole new value: the change is new - old (read first)
                self._added[i].append((1.0, _f32(value) - _f32(variable)))
            assign(variable, value)

        def rec_assign_add(variable, value):
            self._note(variable, value, 1.0)
            assign_add(variable, value)

        def rec_assign_sub(variable, value):
            self._note(variable, value, -1.0)
            assign_sub(variable, value)

        opt.assign, opt.assign_add, opt.assign_sub = rec_assign, rec_assign_add, rec_assign_sub
        return self

    def __exit__(self, *exc) -> None:
        for name in ("assign", "assign_add", "assign_sub"):
            self._opt.__dict__.pop(name, None)

    def _note(self, variable, value, sign: float) -> None:
        i = self._index.get(id(variable))
        if i is not None:
            self._added[i].append((sign, _f32(value)))

    def increment(self, i: int, like) -> tf.Tensor:
        """The change to weight ``i`` in this step, up to its sign (zeros if it had none).

        Only norms are taken of it, so a single ``assign_sub`` is returned as it was
        passed, without an op to negate it.
        """
        parts = self._added.get(i)
        if not parts:
            return tf.zeros(like.shape, tf.float32)
        if len(parts) == 1:
            return parts[0][1]
        total = parts[0][1] * parts[0][0]
        for sign, p in parts[1:]:
            total = total + p if sign > 0 else total - p
        return total


def _f32(x) -> tf.Tensor:
    """``x`` (a tensor, a variable's current value, an array) as a float32 tensor."""
    return tf.cast(tf.convert_to_tensor(x), tf.float32)
