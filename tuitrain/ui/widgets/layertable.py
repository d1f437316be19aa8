"""LayerTable: per-layer gradient statistics of one sample (the latest, or review's cursor).

A scrolling view of pre-built lines rather than a DataTable: a DataTable renders every
cell through Rich on each repaint (about 8 ms for 30 lines at 200x60, measured), and the
live dashboard repaints the table with every new sample. Here each row becomes one strip
when the sample changes; the header stays on top while the rows scroll.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuitrain.engine.events import CORE_COLUMNS, STAT_COLUMNS
from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.paintstyle import PaintStyle

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


_PARSED: dict[str, Style] = {}


def _parse(style: str | Style) -> Style:
    if isinstance(style, Style):
        return style
    parsed = _PARSED.get(style)
    if parsed is None:
        parsed = _PARSED[style] = Style.parse(style)
    return parsed


class LayerTable(PaintStyle, ScrollView, can_focus=True):
    """One row per layer (input first); frozen layers are marked."""

    DEFAULT_CSS = """
    LayerTable { height: 1fr; background: $surface; }
    LayerTable > .layertable--header { text-style: bold; background: $panel; color: $foreground; }
    LayerTable > .layertable--odd-row { background: $surface-lighten-1 40%; }
    """
    COMPONENT_CLASSES = {"layertable--header", "layertable--odd-row"}
    # The arrows and paging scroll (review's own left/right/home/end take priority).
    BINDINGS = [
        Binding("up", "scroll_up", "Scroll Up", show=False),
        Binding("down", "scroll_down", "Scroll Down", show=False),
        Binding("left", "scroll_left", "Scroll Left", show=False),
        Binding("right", "scroll_right", "Scroll Right", show=False),
        Binding("home", "scroll_home", "Scroll Home", show=False),
        Binding("end", "scroll_end", "Scroll End", show=False),
        Binding("pageup", "page_up", "Page Up", show=False),
        Binding("pagedown", "page_down", "Page Down", show=False),
    ]
    # The panel's own size never depends on its rows, so a wider column or another row
    # must not lay the whole screen out again (as in EventLog): only the scrollbars follow.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def __init__(self, state: RunState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.at_step: int | None = None   # review's cursor; None: the latest sample
        self.shown_step: int | None = None
        # The step of the earlier sample whose costlier figures (CORE_COLUMNS aside) the
        # shown one carries (stats.full_every), None when they are its own: dimmed cells.
        self.carried_from: int | None = None
        self._rows: list[list[Text]] = []
        self._col_widths: list[int] = []
        self._strips: list[Strip] | None = None   # header first, built on the next paint
        self._strips_key: tuple | None = None
        # Review: (step) -> (sample step, values, carried_from) read exactly from the log,
        # instead of the decimated series in the state.
        self.lookup: Callable[[int], tuple[int, np.ndarray, int | None] | None] | None = None

    @property
    def carried(self) -> bool:
        """Whether the shown sample's costlier figures are from an earlier step (dimmed)."""
        return self.carried_from is not None

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of row ``index``: the layer, then one per COLUMNS entry."""
        return list(self._rows[index])

    def sample(self) -> tuple[int | None, np.ndarray | None, int | None]:
        """(step, values, carried_from) of the sample to show."""
        s = self.state
        if self.at_step is not None and self.lookup is not None:
            return self.lookup(self.at_step) or (None, None, None)
        if self.at_step is not None:   # a series point: possibly several samples merged
            hit = s.grads.nearest(self.at_step)
            return (int(hit[0]), hit[1], None) if hit else (None, None, None)
        return s.grad_step, s.grad_latest, s.grad_full_step if s.grad_latest_core else None

    def update_view(self) -> None:
        step, arr, carried_from = self.sample()
        if arr is None or step == self.shown_step and self.row_count == arr.shape[0]:
            return
        self.shown_step, self.carried_from = step, carried_from
        carried = carried_from is not None
        layers = self.state.layers or [f"layer {i}" for i in range(arr.shape[0])]
        frozen = self.state.frozen
        idx = [STAT_COLUMNS.index(k) for k, _ in COLUMNS]
        older = [1 + c for c, (k, _) in enumerate(COLUMNS) if k not in CORE_COLUMNS] if carried else []
        rows = []
        for i, name in enumerate(layers[: arr.shape[0]]):
            if i < len(frozen) and frozen[i]:
                cells = [Text(f"{name} ❄", style="dim")] + [fmt(arr[i, j], k) for j, (k, _) in zip(idx, COLUMNS)]
                cells[1] = Text("frozen", style="dim italic", justify="right")
            else:
                cells = [Text(name)] + [fmt(float(arr[i, j]), k) for j, (k, _) in zip(idx, COLUMNS)]
                for c in older:   # fmt's styles are strings; a row paints only cell.style
                    cells[c].style = f"{cells[c].style} dim".strip()
            rows.append(cells)
        self._rows = rows
        self._strips = None
        self._set_virtual_size()
        self.refresh()

    # -- drawing ----------------------------------------------------------------------
    def _widths(self) -> list[int]:
        """Column widths: the widest cell so far in each column. They only grow, so the
        columns do not jump about as the figures change."""
        titles = ["layer"] + [t for _, t in COLUMNS]
        now = [max([len(t)] + [c.cell_len for c in col]) for t, col in
               zip(titles, zip(*self._rows))] if self._rows else [len(t) for t in titles]
        self._col_widths = [max(a, b) for a, b in zip(now, self._col_widths or now)]
        return self._col_widths

    def _set_virtual_size(self) -> None:
        width = sum(self._widths()) + 2 * len(COLUMNS) + 2
        size = Size(width, len(self._rows) + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    def _build(self) -> list[Strip]:
        widths = self._widths()
        header_style = self.get_component_rich_style("layertable--header")
        odd = self.get_component_rich_style("layertable--odd-row")
        base = self.rich_style
        titles = [Text("layer")] + [Text(t, justify="right") for _, t in COLUMNS]
        strips = [self._line(titles, widths, header_style)]
        for i, cells in enumerate(self._rows):
            strips.append(self._line(cells, widths, base + odd if i % 2 else base))
        return strips

    @staticmethod
    def _line(cells: list[Text], widths: list[int], row_style: Style) -> Strip:
        segs = [Segment(" ", row_style)]
        for k, (cell, w) in enumerate(zip(cells, widths)):
            text = cell.plain
            pad = " " * max(0, w - cell.cell_len)
            text = pad + text if cell.justify == "right" else text + pad
            style = row_style + _parse(cell.style) if cell.style else row_style
            segs.append(Segment(text, style))
            segs.append(Segment("  " if k + 1 < len(cells) else " ", row_style))
        return Strip(segs)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        key = (width, self.app.theme, self.has_focus)
        if self._strips is None or key != self._strips_key:
            self._strips = self._build()
            self._strips_key = key
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            strip = self._strips[0]
        else:
            i = scroll_y + y
            if i >= len(self._strips):
                return Strip.blank(width, self.rich_style)
            strip = self._strips[i]
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def on_resize(self) -> None:
        self._set_virtual_size()
