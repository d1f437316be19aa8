"""RunBoard: every view of one run, laid out, drawn from a RunState.

The live dashboard and review both compose a RunBoard and call :meth:`RunBoard.redraw`
with the panels that changed (``RunState.take_changes()``). Layout lives in app.tcss:
wide terminals show the per-layer table beside the heatmap; narrow ones show one of the
two (``show_table`` toggles which).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.curves import MetricPlot
from tuitrain.ui.widgets.eventlog import EventLog
from tuitrain.ui.widgets.header import RunHeader
from tuitrain.ui.widgets.heatmap import GRAD_VIEWS, GradHeatmap
from tuitrain.ui.widgets.layertable import LayerTable
from tuitrain.ui.widgets.lrtrace import LrTrace

ALL_PANELS = frozenset({"header", "curves", "lr", "grads", "log"})


def set_titles(widget, title: str, subtitle: str | None = None) -> None:
    """Set a panel's border title (and subtitle) only when the text changes: each
    assignment repaints the whole panel, even with the same text."""
    key = (title, subtitle)
    if getattr(widget, "_tt_titles", None) == key:
        return
    widget._tt_titles = key
    widget.border_title = title
    if subtitle is not None:
        widget.border_subtitle = subtitle


class RunBoard(Vertical):
    """Header, curves, lr trace, gradient heatmap and table, event log."""

    def __init__(self, state: RunState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.show_table = False   # narrow layout: table instead of heatmap

    def compose(self) -> ComposeResult:
        s = self.state
        yield RunHeader(s, id="run-header")
        yield Static("", id="error-panel")
        with Horizontal(id="plots"):
            yield MetricPlot(s, "loss", id="loss-plot")
            yield MetricPlot(s, "accuracy", id="acc-plot")
            yield LrTrace(s, id="lr-plot")
        with Horizontal(id="lower"):
            yield GradHeatmap(s, id="heatmap")
            yield LayerTable(s, id="layer-table")
            yield EventLog(s, id="event-log")

    def on_mount(self) -> None:
        self.query_one("#loss-plot").border_title = "loss"
        self.query_one("#acc-plot").border_title = "accuracy"
        self.query_one("#event-log").border_title = "events"
        self.redraw(ALL_PANELS)

    @property
    def grad_view(self) -> int:
        return self.query_one(GradHeatmap).view

    def cycle_grad_view(self) -> str:
        heat = self.query_one(GradHeatmap)
        heat.view = (heat.view + 1) % len(GRAD_VIEWS)
        self.redraw({"grads"})
        return GRAD_VIEWS[heat.view][1]

    def toggle_table(self) -> None:
        self.show_table = not self.show_table
        self.set_class(self.show_table, "-show-table")
        self.redraw({"grads"})

    def redraw(self, changes: set[str] | frozenset[str]) -> None:
        s = self.state
        if "header" in changes:
            self.query_one(RunHeader).update_view()
            panel = self.query_one("#error-panel", Static)
            failed = s.state == "failed"
            if failed != self.has_class("-failed"):   # a class change restyles every panel
                self.set_class(failed, "-failed")
            if failed:
                panel.update(f"[b]The run failed.[/b] {s.reason or 'no reason given'}\n"
                             "[dim]The log and the views stay available; q quits.[/dim]")
        if "curves" in changes:
            self.query_one("#loss-plot", MetricPlot).update_view()
            self.query_one("#acc-plot", MetricPlot).update_view()
        if "lr" in changes:
            lr = self.query_one(LrTrace)
            lr.update_view()
            set_titles(lr, "learning rate", lr.caption)
        if "grads" in changes:
            heat = self.query_one(GradHeatmap)
            heat.update_view()
            set_titles(heat, f"{GRAD_VIEWS[heat.view][1]} · layers × time",
                       f"{len(s.layers)} layers · g: view")
            table = self.query_one(LayerTable)
            table.update_view()
            set_titles(table, "layers" if table.shown_step is None else
                       f"layers @ step {table.shown_step:,}"
                       + ("" if table.carried_from is None
                          else f" · dim: from step {table.carried_from:,}"))
        if "log" in changes:
            self.query_one(EventLog).update_view()
