"""GradCompare: one gradient heatmap per run, side by side, on one colour scale.

Compare's answer to "how do the runs' gradients differ" (R02's 100-layer ReLU net against
R01's SELU one): each run's layers x time heatmap, in the run's colour, all drawn with the
same log10 range (:func:`~tuitrain.ui.widgets.heatmap.shared_range`), so a colour is the
same value in every panel, and on one time axis, steps 0 to the longest run's last
sample, so a column is the same step in every panel (a shorter run ends blank).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.heatmap import GRAD_VIEWS, GradHeatmap, shared_range
from tuitrain.ui.widgets.overlay import hex_colour


class GradCompare(Horizontal):
    """A :class:`GradHeatmap` per run in ``runs`` [(name, state)], sharing one scale."""

    DEFAULT_CSS = """
    GradCompare GradHeatmap { width: 1fr; }
    """

    def __init__(self, runs: list[tuple[str, RunState]], **kwargs):
        super().__init__(**kwargs)
        self.runs = runs
        self.view = 0
        self.scale: tuple[float, float] | None = None
        self.span: int | None = None   # the last step of the longest run: one time axis

    def compose(self) -> ComposeResult:
        for i, (_, state) in enumerate(self.runs):
            yield GradHeatmap(state, id=f"cmp-heat-{i}")

    def on_mount(self) -> None:
        self.show_view(self.view)

    @property
    def heatmaps(self) -> list[GradHeatmap]:
        return list(self.query(GradHeatmap))

    def show_view(self, view: int) -> str:
        """Draw GRAD_VIEWS[view] for every run on their shared range; returns its title."""
        self.view = view
        column, title = GRAD_VIEWS[view]
        self.scale = shared_range([state for _, state in self.runs], column)
        self.span = max((state.grads.points()[0][-1] for _, state in self.runs
                         if len(state.grads)), default=None)
        for i, ((name, state), heat) in enumerate(zip(self.runs, self.heatmaps)):
            heat.view, heat.scale, heat.span = view, self.scale, self.span
            heat.styles.border_title_color = hex_colour(i)
            heat.border_title = f"{name} · {title}"
            steps = "" if self.span is None else f"steps 0-{self.span:,} · "
            heat.border_subtitle = f"shared scale · {steps}{len(state.layers)} layers"
            heat.update_view()
        return title
