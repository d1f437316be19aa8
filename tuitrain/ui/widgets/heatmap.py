"""GradHeatmap: layers x time, coloured on a log scale, for nets of any depth.

Rows are layers (input at the top, output at the bottom), columns are gradient-stat samples
(the whole run, compressed to the width). Each character cell shows two pixel rows with the
upper half block, so a 24-line terminal still resolves 40 rows; deeper nets are grouped
(geometric mean of the group) to fit the height. The colour is log10 of the value, so a
gradient that vanishes toward the input (1e-8) or explodes (1e+3) is a different colour
band, not a barely different shade. Non-finite values are cyan, frozen layers grey. With
NO_COLOR the cells become shade characters.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from tuitrain.engine.events import STAT_COLUMNS
from tuitrain.ui.runstate import RunState

# (column, title) for each view the `g` key cycles through.
GRAD_VIEWS: tuple[tuple[str, str], ...] = (
    ("norm", "gradient norm"),
    ("update_ratio", "update / weight ratio"),
    ("act_std", "activation std"),
)

_INFERNO = [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
            (245, 125, 21), (250, 193, 39), (252, 255, 164)]
_NONFINITE = Style(color=Color.from_rgb(0, 230, 255), bgcolor=Color.from_rgb(0, 230, 255))
_SHADES = " ░▒▓█"
_PLAIN = Style()  # every segment needs a Style: Textual's NO_COLOR filter reads it
GUTTER = 5


def colour(frac: float) -> Color:
    """Inferno colour for 0..1."""
    frac = min(1.0, max(0.0, frac)) * (len(_INFERNO) - 1)
    i = min(int(frac), len(_INFERNO) - 2)
    f = frac - i
    a, b = _INFERNO[i], _INFERNO[i + 1]
    return Color.from_rgb(*(round(x + (y - x) * f) for x, y in zip(a, b)))


def log_range(values: np.ndarray, min_span: float = 2.0) -> tuple[float, float]:
    """Whole decades covering the finite positive values, at least ``min_span`` wide."""
    with np.errstate(all="ignore"):
        logs = np.log10(values[np.isfinite(values) & (values > 0)])
    if logs.size == 0:
        return -3.0, 0.0
    lo, hi = math.floor(float(np.percentile(logs, 1))), math.ceil(float(logs.max()))
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = math.floor(mid - min_span / 2), math.ceil(mid + min_span / 2)
    return float(lo), float(hi)


def grid(samples: list[np.ndarray], column: int, rows: int, cols: int) -> np.ndarray:
    """A rows x cols matrix of log10 values (NaN: missing, inf: non-finite data)."""
    if not samples or rows <= 0 or cols <= 0:
        return np.full((max(rows, 0), 0), np.nan)
    n = len(samples)
    pick = [int(c * n / cols) for c in range(cols)] if n > cols else list(range(n))
    data = np.stack([samples[i][:, column] for i in pick], axis=1).astype(np.float64)  # L x T
    layers = data.shape[0]
    out = np.full((rows, data.shape[1]), np.nan)
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(data) & ~np.isnan(data)
        logs = np.log10(np.abs(data))
    for r in range(rows):
        a = int(r * layers / rows)
        b = max(a + 1, int((r + 1) * layers / rows))
        block, blk_bad = logs[a:b], bad[a:b]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # an all-missing group is fine
            row = np.nanmean(np.where(np.isfinite(block), block, np.nan), axis=0)
        row = np.where(blk_bad.any(axis=0), np.inf, row)
        out[r] = row
    return out


class GradHeatmap(Widget):
    """The layers x time heatmap of one grad view, drawn from a RunState."""

    DEFAULT_CSS = """
    GradHeatmap { height: 1fr; min-height: 4; }
    """

    def __init__(self, state: RunState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.view = 0
        self._strips: list[Strip] | None = None

    @property
    def view_column(self) -> str:
        return GRAD_VIEWS[self.view][0]

    def update_view(self) -> None:
        self._strips = None
        self.refresh()

    def on_resize(self) -> None:
        self._strips = None

    def render_line(self, y: int) -> Strip:
        if self._strips is None:
            self._strips = self._build()
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width, _PLAIN)

    def _build(self) -> list[Strip]:
        w, h = self.size.width, self.size.height
        s = self.state
        _, samples = s.grads.points()
        if not samples or h < 2 or w <= GUTTER + 1:
            msg = "waiting for gradient statistics..." if s.live or not s.ended else "no gradient statistics"
            return [Strip([Segment(msg[:w], _PLAIN)])] + [Strip.blank(w, _PLAIN)] * (h - 1)
        col = STAT_COLUMNS.index(self.view_column)
        rows = h - 1
        no_color = getattr(self.app, "no_color", False)
        pix = grid(samples, col, rows if no_color else 2 * rows, w - GUTTER)
        values = np.stack([x[:, col] for x in samples])
        lo, hi = log_range(np.abs(values))
        frozen = s.frozen if len(s.frozen) == samples[0].shape[0] else []
        strips = [self._row(pix, y, lo, hi, no_color, frozen, rows) for y in range(rows)]
        strips.append(self._legend(lo, hi, w, no_color))
        return strips

    def _row(self, pix: np.ndarray, y: int, lo: float, hi: float, no_color: bool,
             frozen: list[bool], rows: int) -> Strip:
        n_layers = len(self.state.layers) or 1
        first = int(y * n_layers / rows)
        label = "in" if y == 0 else "out" if y == rows - 1 else (
            str(first) if y % 4 == 0 else "")
        segs = [Segment(f"{label:>{GUTTER - 1}} ", Style(dim=True))]
        grey = Style(color="grey50", bgcolor="grey50")
        is_frozen = bool(frozen) and all(frozen[first:max(first + 1, int((y + 1) * n_layers / rows))])
        span = max(hi - lo, 1e-9)
        for c in range(pix.shape[1]):
            if no_color:
                v = pix[y, c]
                ch = "!" if np.isinf(v) else " " if np.isnan(v) else _SHADES[
                    min(4, max(0, int((v - lo) / span * 4.999)))]
                segs.append(Segment(ch, _PLAIN))
                continue
            top, bot = pix[2 * y, c], pix[2 * y + 1, c]
            if is_frozen:
                segs.append(Segment("▀", grey))
                continue
            segs.append(Segment("▀", Style(color=self._c(top, lo, span), bgcolor=self._c(bot, lo, span))))
        return Strip(segs)

    @staticmethod
    def _c(v: float, lo: float, span: float) -> Color | None:
        if np.isnan(v):
            return None
        if np.isinf(v):
            return _NONFINITE.color
        return colour((v - lo) / span)

    def _legend(self, lo: float, hi: float, w: int, no_color: bool) -> Strip:
        segs = [Segment(f"{'log':>{GUTTER - 1}} ", _PLAIN), Segment(f"1e{lo:+.0f} ", Style(dim=True))]
        bar = max(4, min(24, w - GUTTER - 26))
        for i in range(bar):
            if no_color:
                segs.append(Segment(_SHADES[min(4, int(i / bar * 5))], _PLAIN))
            else:
                segs.append(Segment(" ", Style(bgcolor=colour(i / (bar - 1)))))
        segs.append(Segment(f" 1e{hi:+.0f}", Style(dim=True)))
        if not no_color:
            segs += [Segment("  ", _PLAIN), Segment(" ", _NONFINITE), Segment(" nan/inf", Style(dim=True))]
        return Strip(segs).crop(0, w)
