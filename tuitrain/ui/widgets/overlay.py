"""OverlayPlot: one metric of several runs on shared axes, one colour per run (compare).

Each run draws its train series per step (smoothed, a line) and, for loss and accuracy,
its validation value per epoch (dots on a thin line), in the run's colour from
:data:`RUN_COLOURS`. The legend naming the runs is drawn by the compare screen, once for
all plots; each plot's border says what the line styles mean.
"""

from __future__ import annotations

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.curves import finite_points, int_ticks, thin, y_ticks
from tuitrain.ui.widgets.plotstrips import StripPlot

# Distinct on dark and light themes, and in this order the first two are the most apart.
RUN_COLOURS: tuple[tuple[int, int, int], ...] = (
    (80, 160, 255), (255, 150, 40), (110, 220, 110), (235, 90, 235),
    (0, 215, 215), (255, 85, 85), (235, 235, 110), (175, 175, 175),
)

TITLES = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate"}


def run_colour(index: int) -> tuple[int, int, int]:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def hex_colour(index: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*run_colour(index))


class OverlayPlot(StripPlot):
    """``metric`` ("loss", "accuracy" or "lr") of every run in ``runs`` [(name, state)]."""

    def __init__(self, runs: list[tuple[str, RunState]], metric: str, **kwargs):
        super().__init__(**kwargs)
        self.runs = runs
        self.metric = metric
        self.log_scale = False

    def on_mount(self) -> None:
        self.border_title = TITLES[self.metric]
        self.border_subtitle = ("━ train (smoothed) · ● val per epoch" if self.metric != "lr"
                                else "━ lr per step")
        # Drawn on the first resize (StripPlot.on_resize), once the plot has its size.

    def _series(self, st: RunState) -> tuple[list, list]:
        series = {"loss": st.loss_s, "accuracy": st.acc_s, "lr": st.lr_s}[self.metric]
        return thin(*finite_points(*series.points()), self.size.width)

    def update_view(self) -> None:
        plt = self.plt
        plt.clear_figure()
        xs_all: list = []
        if self.metric == "lr":
            pos = [y for _, st in self.runs for y in self._series(st)[1] if y > 0]
            self.log_scale = bool(pos) and max(pos) / min(pos) >= 10
            if self.log_scale:
                plt.yscale("log")
        ys_all: list = []
        for i, (_name, st) in enumerate(self.runs):
            colour = run_colour(i)
            xs, ys = self._series(st)
            xs_all += xs
            ys_all += ys
            vx, vy = [], []
            if self.metric != "lr":
                key = "val_" + self.metric
                val = [(step, m[key]) for _, step, m in st.epoch_metrics if key in m]
                vx, vy = finite_points([v[0] for v in val], [v[1] for v in val])
            # As in MetricPlot: the validation line under the train line, points on top.
            if vx:
                plt.plot(vx, vy, color=colour, marker="dot")
            if xs:
                plt.plot(xs, ys, color=colour, marker="braille")
            if vx:
                plt.scatter(vx, vy, color=colour, marker="●")
            xs_all += vx
            ys_all += vy
        int_ticks(plt, xs_all, self.size.width)
        if not self.log_scale:
            y_ticks(plt, ys_all, self.size.height)
        plt.frame(True)
        self.changed()
