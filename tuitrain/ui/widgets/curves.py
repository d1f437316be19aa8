"""MetricPlot: a loss or accuracy curve, train per step (smoothed) and validation per epoch."""

from __future__ import annotations

import math

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.plotstrips import StripPlot

_TRAIN = (80, 160, 255)
_VAL = (255, 170, 40)
CURSOR = (235, 235, 235)


def step_ticks(lo: int, hi: int, most: int = 5) -> list[int]:
    """Round whole steps between ``lo`` and ``hi``: the finest multiples of 1, 2 or 5 x 10^k
    that give at most ``most`` ticks (5000 / 10k / 15k rather than 5024 / 10.016k)."""
    if hi <= lo:
        return [lo]
    mag = 10 ** max(0, math.floor(math.log10((hi - lo) / most)))
    for step in (m * mag * k for k in (1, 10, 100) for m in (1, 2, 5)):
        first = -(-lo // step) * step
        ticks = list(range(first, hi + 1, step))
        if len(ticks) <= most:
            return ticks or [lo]
    return [lo, hi]


def step_label(t: int) -> str:
    if t >= 1_000_000:
        return f"{t / 1e6:g}M"
    return f"{t / 1000:g}k" if t >= 10_000 else str(t)


def value_ticks(lo: float, hi: float, most: int = 5) -> tuple[list[float], list[str]]:
    """Round values between ``lo`` and ``hi`` (multiples of 1, 2 or 5 x 10^k: the finest
    step giving two to ``most`` ticks, else the fewest above one) and their labels with
    just the decimals the step needs (0.5 / 1.0 / 1.5); a flat line gets its value."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return [], []
    if hi == lo:   # a flat line: its own value (plotext would label rows around it)
        return [lo], [f"{lo:.4g}"]
    mag = 10.0 ** math.floor(math.log10((hi - lo) / most))
    options = []
    for m in (1, 2, 5, 10, 20, 50):
        step = m * mag
        first = math.ceil(lo / step - 1e-9)
        count = math.floor(hi / step + 1e-9) - first + 1
        options.append((step, first, count))
    fits = [o for o in options if 2 <= o[2] <= most] or [
        o for o in options if 2 <= o[2] <= most + 1] or sorted(
        (o for o in options if o[2] >= 2), key=lambda o: o[2])
    if not fits:
        return [], []
    step, first, count = fits[0]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    ticks = [round((first + i) * step, decimals + 3) for i in range(max(count, 0))]
    return ticks, [f"{t:.{decimals}f}" for t in ticks]


def y_ticks(plt, ys: list, height: int) -> None:
    """Round y ticks on a linear axis: up to five, at most one a row of the plot."""
    if ys:
        ticks, labels = value_ticks(min(ys), max(ys), most=max(2, min(5, height - 4)))
        if ticks:
            plt.yticks(ticks, labels)


def int_ticks(plt, xs: list, width: int = 40) -> None:
    """Whole-step x ticks at round numbers (plotext would print 245.2 for a step count),
    about one per 8 columns of a plot ``width`` wide (plotext drops labels that collide)."""
    if not xs:
        return
    ticks = step_ticks(int(min(xs)), int(max(xs)), most=max(2, min(5, width // 8)))
    plt.xticks(ticks, [step_label(t) for t in ticks])


def finite_points(xs: list, ys: list) -> tuple[list, list]:
    """Drop NaN/inf points: plotext cannot place them (non-finite values show in the log)."""
    keep = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    return [k[0] for k in keep], [k[1] for k in keep]


def thin(xs: list, ys: list, width: int) -> tuple[list, list]:
    """At most about two points per braille column (a cell is two dots wide).

    plotext's cost grows with the number of points, and more points than dots cannot
    show; every k-th point is kept, and always the last, so the newest value is drawn.
    """
    limit = max(2 * width, 16)
    if len(xs) <= limit:
        return xs, ys
    k = -(-len(xs) // limit)
    tx, ty = xs[::k], ys[::k]
    if tx[-1] != xs[-1]:
        tx.append(xs[-1])
        ty.append(ys[-1])
    return tx, ty


class MetricPlot(StripPlot):
    """Train (smoothed, per step) and validation (per epoch) values of one metric."""

    def __init__(self, state: RunState, metric: str = "loss", **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.metric = metric
        # The legend lives in the border (a plotext legend covers the data in small plots).
        self.border_subtitle = "[#50a0ff]━ train[/] [#ffaa28]● val[/]"
        self.overlays: list[tuple[str, RunState]] = []  # review: other runs to draw too
        self.cursor: int | None = None   # review's cursor step, drawn as a vertical line
        self.drawn_to: int | None = None

    def update_view(self) -> None:
        plt = self.plt
        plt.clear_figure()
        runs = [("", self.state)] + self.overlays
        xs: list = []
        ys: list = []
        for i, (name, st) in enumerate(runs):
            run_xs, run_ys = self._draw(st, name, i)
            xs += run_xs
            ys += run_ys
        if self.cursor is not None and xs:
            plt.vline(self.cursor, CURSOR)
        int_ticks(plt, xs, self.size.width)
        y_ticks(plt, ys, self.size.height)
        plt.frame(True)
        self.drawn_to = max(xs) if xs else None   # the last step on the axis now shown
        self.changed()

    def _draw(self, st: RunState, name: str, index: int) -> tuple[list, list]:
        """Draw one run; its x and y values (for the axes' ticks)."""
        plt = self.plt
        series = st.loss_s if self.metric == "loss" else st.acc_s
        xs, ys = thin(*finite_points(*series.points()), self.size.width)
        tag = f"{name} " if name else ""
        train_c = _TRAIN if index == 0 else ("magenta", "cyan", "green", "red")[index % 4]
        val_c = _VAL if index == 0 else train_c
        key = "val_" + self.metric
        val = [(step, m[key]) for _, step, m in st.epoch_metrics if key in m]
        vx, vy = finite_points([v[0] for v in val], [v[1] for v in val])
        # The validation line goes under the train line (a cell shows one series: the
        # dotted line between epochs would hide the train curve where they meet), and
        # the epoch points on top while they are sparse enough not to hide it.
        if vx:
            plt.plot(vx, vy, color=val_c, marker="dot", label=f"{tag}val" if name else None)
        if xs:
            plt.plot(xs, ys, color=train_c, marker="braille", label=f"{tag}train" if name else None)
        if vx and len(vx) <= self.size.width // 3:
            plt.scatter(vx, vy, color=val_c, marker="●")
        return xs + vx, ys + vy
