"""LayerTable: per-layer gradient statistics of one sample (the latest, or review's cursor)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from rich.text import Text
from textual.widgets import DataTable

from tuitrain.engine.events import STAT_COLUMNS
from tuitrain.ui.runstate import RunState

COLUMNS = (("norm", "norm"), ("mean", "mean"), ("std", "std"), ("max_abs", "max|g|"),
           ("zero_frac", "zeros"), ("update_ratio", "upd/w"), ("act_mean", "act μ"),
           ("act_std", "act σ"))


def fmt(v: float, column: str = "") -> Text:
    """A compact number: non-finite in bold red, fractions as percentages."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return Text("·", style="dim", justify="right")
    if not math.isfinite(v):
        return Text(str(v), style="bold red", justify="right")
    if column == "zero_frac":
        return Text(f"{v:.0%}", justify="right", style="yellow" if v > 0.5 else "")
    a = abs(v)
    if a == 0:
        s = "0"
    elif 1e-2 <= a < 1e3:
        s = f"{v:.3g}"
    else:   # 1.2e-4, not 1.2e-04: the table must fit beside the heatmap
        mant, exp = f"{v:.1e}".split("e")
        s = f"{mant}e{int(exp)}"
    style = ""
    if column == "norm" and (a < 1e-6 or a > 1e2):
        style = "bold magenta"   # vanishing / exploding: the thing to notice
    return Text(s, justify="right", style=style)


class LayerTable(DataTable):
    """One row per layer (input first); frozen layers are marked."""

    DEFAULT_CSS = """
    LayerTable { height: 1fr; }
    """

    def __init__(self, state: RunState, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.state = state
        self.at_step: int | None = None   # review's cursor; None: the latest sample
        self.shown_step: int | None = None
        self._shown_shape: tuple | None = None   # (layer names, frozen) of the rows shown
        # Review: (step) -> (sample step, values) read exactly from the log, instead of
        # the decimated series in the state.
        self.lookup: Callable[[int], tuple[int, np.ndarray] | None] | None = None

    def on_mount(self) -> None:
        self.add_column("layer", key="layer")
        for key, title in COLUMNS:
            self.add_column(title, key=key)

    def sample(self) -> tuple[int | None, np.ndarray | None]:
        s = self.state
        if self.at_step is not None and self.lookup is not None:
            return self.lookup(self.at_step) or (None, None)
        if self.at_step is not None:
            hit = s.grads.nearest(self.at_step)
            return (int(hit[0]), hit[1]) if hit else (None, None)
        return s.grad_step, s.grad_latest

    def update_view(self) -> None:
        step, arr = self.sample()
        if arr is None or step == self.shown_step and self.row_count == arr.shape[0]:
            return
        self.shown_step = step
        layers = self.state.layers or [f"layer {i}" for i in range(arr.shape[0])]
        frozen = self.state.frozen
        idx = [STAT_COLUMNS.index(k) for k, _ in COLUMNS]
        rows = []
        for i, name in enumerate(layers[: arr.shape[0]]):
            if i < len(frozen) and frozen[i]:
                cells = [Text(f"{name} ❄", style="dim")] + [fmt(arr[i, j], k) for j, (k, _) in zip(idx, COLUMNS)]
                cells[1] = Text("frozen", style="dim italic", justify="right")
            else:
                cells = [Text(name)] + [fmt(float(arr[i, j]), k) for j, (k, _) in zip(idx, COLUMNS)]
            rows.append(cells)
        shape = (tuple(layers[: arr.shape[0]]), tuple(frozen))
        if shape == self._shown_shape and self.row_count == len(rows):
            # Same rows: new values in place. Clearing and adding rows would make the
            # screen lay itself out again and repaint every panel (measured: most of the
            # live dashboard's CPU).
            for i, cells in enumerate(rows):
                for (key, _), cell in zip(COLUMNS, cells[1:]):
                    self.update_cell(str(i), key, cell)
            return
        self._shown_shape = shape
        row, scroll = self.cursor_row, self.scroll_y
        self.clear()
        for i, cells in enumerate(rows):
            self.add_row(*cells, key=str(i))
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1), animate=False, scroll=False)
            self.scroll_y = scroll
