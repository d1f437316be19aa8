"""Replay a saved run into a RunState without replaying it event by event.

``replay(log)`` gives the :class:`~tuitrain.ui.runstate.RunState` that applying every event
of the run would give, at a cost independent of the number of steps' Python objects: the
journal (start, epochs, controls, alerts, checkpoints, end: a few hundred events) goes
through ``RunState.apply``; the per-step series are built from the log's numpy columns
(vectorised EMA smoothing, then the same power-of-two bucketing :class:`Series` reaches by
appending); gradient statistics come from a decimated :meth:`RunLog.grad_series`. The
series keep their stride and partial bucket, so a follower (attach) can go on appending
the events written afterwards.

``mark_crashed`` turns a state whose process died without an end event into "crashed".
"""

from __future__ import annotations

import math

import numpy as np

from tuitrain.engine.events import ControlApplied
from tuitrain.runlog import RunLog
from tuitrain.ui.runstate import RunState
from tuitrain.ui.series import Series

_BLOCK = 64   # EMA block length: 0.9**-64 (about 850) keeps the block sums well scaled
ALPHA = 0.1   # RunState's smoothing of train loss and accuracy (ema = 0.9 ema + 0.1 x)


def ema(values: np.ndarray, alpha: float = ALPHA, start: float | None = None) -> np.ndarray:
    """``y[i] = (1 - alpha) * y[i-1] + alpha * x[i]`` (``y[0] = x[0]`` unless ``start``),
    vectorised within blocks of ``_BLOCK`` values, sequential only across blocks."""
    x = np.asarray(values, np.float64)
    n = len(x)
    if n == 0:
        return x.copy()
    beta = 1.0 - alpha
    first = x[0] if start is None else beta * start + alpha * x[0]
    rest = x[1:]
    pad = (-len(rest)) % _BLOCK
    blocks = np.concatenate([rest, np.zeros(pad)]).reshape(-1, _BLOCK)
    k = np.arange(_BLOCK)
    decay = beta ** (k + 1)                                  # weight of the carried value
    # Inside a block: y[k] = alpha * sum_{j<=k} beta**(k-j) x[j] = alpha beta**k cumsum(x beta**-j)
    inner = alpha * beta ** k * np.cumsum(blocks * beta ** -k, axis=1)
    out = np.empty(len(blocks) * _BLOCK)
    carry = first
    for b in range(len(blocks)):
        seg = inner[b] + decay * carry
        out[b * _BLOCK:(b + 1) * _BLOCK] = seg
        carry = seg[-1]
    return np.concatenate([[first], out[:len(rest)]])


def _stride(n: int, capacity: int) -> int:
    """The stride a Series reaches after ``n`` appends: the least power of two with
    fewer than ``capacity`` full buckets."""
    stride = 1
    while n // stride >= capacity:
        stride *= 2
    return stride


def _bucket_mean(ys: np.ndarray) -> np.ndarray:
    """Row means of finite values (NaN where a row has none), like Series' "mean"."""
    finite = np.isfinite(ys)
    with np.errstate(all="ignore"):
        out = np.where(finite, ys, 0.0).sum(axis=1) / finite.sum(axis=1)
    return np.where(finite.any(axis=1), out, np.nan)


def fill_series(series: Series, xs: np.ndarray, ys: np.ndarray, merge: str = "mean") -> None:
    """Set ``series`` to what appending the points (xs, ys) one by one would leave."""
    n = len(xs)
    stride = _stride(n, series.capacity)
    full = (n // stride) * stride
    xs = np.asarray(xs, np.float64)
    ys = np.asarray(ys, np.float64)
    if stride == 1:
        bx, by = xs, ys
    else:
        bx = xs[stride - 1:full:stride]
        block = ys[:full].reshape(-1, stride)
        by = block[:, -1] if merge == "last" else _bucket_mean(block)
    series.xs = [int(x) for x in bx.tolist()]
    series.ys = by.tolist()
    series.stride = stride
    series._pending_x = [int(x) for x in xs[full:].tolist()]
    series._pending_y = ys[full:].tolist()
    series.count = n


def _clip_modes(log: RunLog, steps: np.ndarray) -> np.ndarray:
    """Clip mode per step (steps.bin keeps only the threshold): the preset's, then each
    set_clip control from the step after it took effect."""
    initial = str((log.preset.get("clipping") or {}).get("mode", "off"))
    changes = [(c.step, str(c.args.get("mode", "off"))) for c in log.journal
               if isinstance(c, ControlApplied) and c.command == "set_clip"]
    modes = np.array([initial] + [m for _, m in changes], dtype=object)
    at = np.searchsorted(np.array([s for s, _ in changes], np.int64), steps, side="left")
    return modes[at]


def _steps(state: RunState, log: RunLog) -> None:
    cols = log.steps
    steps = cols["step"]
    n = len(steps)
    if n == 0:
        return
    last = n - 1
    state.step = max(state.step, int(steps[last]))
    state.epoch = int(cols["epoch"][last])
    state.loss = float(cols["loss"][last])
    acc = float(cols["accuracy"][last])
    state.accuracy = acc if math.isfinite(acc) else None
    state.lr = float(cols["lr"][last])
    state.grad_norm = float(cols["grad_norm"][last])
    modes = _clip_modes(log, steps)
    state.clip_mode = str(modes[last])
    state.clip_threshold = float(cols["clip_threshold"][last])
    speed = cols["samples_per_s"]
    positive = np.flatnonzero(speed > 0)
    if len(positive):
        state.samples_per_s = float(speed[positive[-1]])
    state.last_t = max(state.last_t or 0.0, float(cols["t"][last]))
    if state.state == "starting":
        state.state = "running"
    # Non-finite losses are not smoothed in (RunState skips them too).
    for name, series, attr in (("loss", state.loss_s, "_ema_loss"), ("accuracy", state.acc_s, "_ema_acc")):
        col = cols[name]
        keep = np.isfinite(col)
        if keep.any():
            smooth = ema(col[keep])
            fill_series(series, steps[keep], smooth)
            setattr(state, attr, float(smooth[-1]))
    fill_series(state.lr_s, steps, cols["lr"], "last")
    fill_series(state.clip_s, steps, np.where(modes == "off", np.nan, cols["clip_threshold"]), "last")
    fill_series(state.gnorm_s, steps, cols["grad_norm"])


def _grads(state: RunState, log: RunLog) -> None:
    n = len(log.grad_steps)
    if n == 0:
        return
    cap = state.grads.capacity
    small = n < cap
    gs = log.grad_series(None if small else cap // 2)
    if len(gs.steps) == 0:
        return
    series = state.grads
    series.xs = [int(s) for s in gs.steps.tolist()]
    series.ys = list(gs.values)
    series._pending_x, series._pending_y = [], []
    # Decimated by picking: later appends (attach) merge about as many samples per point.
    series.stride = 1 if small else 1 << max(0, math.ceil(math.log2(n / len(gs.steps))))
    series.count = n
    state.grad_latest, state.grad_step = gs.values[-1], int(gs.steps[-1])
    state.grad_latest_core = bool(gs.core_only[-1]) if gs.core_only is not None else False
    # The last full sample may have been decimated away: the log knows its step.
    found = log.grad_sample(state.grad_step) if state.grad_latest_core else None
    state.grad_full_step = found[1] if found else state.grad_step
    state.frozen = [bool(f) for f in gs.frozen[-1].tolist()]


def mark_crashed(state: RunState, t: float | None = None) -> None:
    """The run's process died without an end event."""
    if state.state == "crashed":
        return
    state.state = "crashed"
    state.reason = "the training process died without ending the run"
    state.ended_t = t if t is not None else state.last_t
    state.pending = None
    state.note(f"run crashed at step {state.step:,}: no end event and the process is gone",
               "error", state.ended_t)
    state.changes.update(("header", "curves", "lr", "grads"))


def replay(log: RunLog, state: RunState | None = None) -> RunState:
    """The RunState of ``log`` as it stands (see the module docstring)."""
    state = state if state is not None else RunState()
    state.apply_all(log.journal)
    if not state.run_id:
        state.run_id = log.name
    if not state.preset:
        state.preset = dict(log.preset)
    _steps(state, log)
    _grads(state, log)
    if log.ended is None and log.status == "crashed":
        mark_crashed(state)
    state.changes.update(("header", "curves", "lr", "grads", "log"))
    return state
