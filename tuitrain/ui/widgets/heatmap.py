"""GradHeatmap: layers x time, coloured on a log scale, for nets of any depth.

Rows are layers (input at the top, output at the bottom), columns are gradient-stat samples
(the whole run, compressed to the width: a column is the geometric mean of its samples,
so a one-sample spike still shows). Each character cell shows two pixel rows with the
upper half block, so a 24-line terminal still resolves 40 rows; deeper nets are grouped
(geometric mean of the group) to fit the height. The colour is log10 of the value, so a
gradient that vanishes toward the input (1e-8) or explodes (1e+3) is a different colour
band, not a barely different shade. Non-finite values are cyan, frozen layers grey. With
NO_COLOR the cells become shade characters.

The colour range is the run's own (whole decades, :func:`log_range`) unless ``scale`` fixes
it, and the time axis is the run's own unless ``span`` fixes its last step: compare gives
every run's heatmap the same range (:func:`shared_range`) and the same steps, so one colour
means one value and one column one step across runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
_CURSOR = Style(color="white", bold=True)
_SHADES = " ░▒▓█"
_PLAIN = Style()  # every segment needs a Style: Textual's NO_COLOR filter reads it
GUTTER = 5


LEVELS = 64
_NAN, _INF = -1, -2


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


def shared_range(states: list[RunState], column: str) -> tuple[float, float]:
    """One :func:`log_range` over ``column`` of every run's gradient samples."""
    col = STAT_COLUMNS.index(column)
    values = [np.abs(np.stack([x[:, col] for x in st.grads.points()[1]]).ravel())
              for st in states if len(st.grads)]
    return log_range(np.concatenate(values) if values else np.zeros(0))


def pick_columns(xs: Sequence[int], cols: int, span: int | None = None) -> list[int]:
    """The sample each column shows: every (n / cols)-th (all of them where they fit).

    With ``span`` the columns are steps 0..span, as in compare, where runs of different
    lengths share one time axis: each column shows the first sample in its steps (as the
    run's own axis does), or the one before where it has none, and -1 (blank) once the
    run has ended.
    """
    n = len(xs)
    if span is None:
        return [int(c * n / cols) for c in range(cols)] if n > cols else list(range(n))
    if n == 0:
        return []
    width = max(span, 1) / cols
    starts = [c * width for c in range(cols)]
    first = np.searchsorted(np.asarray(xs), starts, side="left").tolist()
    return [-1 if start > xs[-1] else i if i < n and xs[i] < start + width else i - 1
            for start, i in zip(starts, first)]


def grid(samples: list[np.ndarray], column: int, rows: int, cols: int,
         pick: list[int] | None = None) -> np.ndarray:
    """A rows x cols matrix of log10 values (NaN: missing, inf: non-finite data).

    Row r is the mean log10 of layers ``int(r * L / rows)`` up to the next row's first
    layer (at least one layer): a 100-layer net in 40 rows averages two or three layers
    a row, a 4-layer one repeats each layer over several rows. Columns do the same over
    time: ``pick`` gives each column's first sample (-1: blank; by default every
    (n / cols)-th), and a column averages its samples up to the next column's first, so a
    spike between two columns' first samples still shows. A cell is the mean log10 of
    its block of layers x samples; any non-finite value marks the cell.
    """
    if not samples or rows <= 0 or cols <= 0:
        return np.full((max(rows, 0), 0), np.nan)
    if pick is None:
        pick = pick_columns(range(len(samples)), cols)
    shown = [k for k, i in enumerate(pick) if i >= 0]
    out = np.full((rows, len(pick)), np.nan)
    if not shown:
        return out
    data = np.stack([x[:, column] for x in samples], axis=1).astype(np.float64)  # L x n
    layers = data.shape[0]
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(data) & ~np.isnan(data)
        logs = np.log10(np.abs(data))
    ok = np.isfinite(logs)
    # reduceat sums from each start up to the next one, or takes the one element where
    # the next starts at the same place: over time (columns), then over layers (rows).
    firsts = [pick[k] for k in shown]
    sums = np.add.reduceat(np.where(ok, logs, 0.0), firsts, axis=1)
    counts = np.add.reduceat(ok.astype(np.int64), firsts, axis=1)
    bad = np.logical_or.reduceat(bad, firsts, axis=1)
    starts = np.arange(rows) * layers // rows
    sums = np.add.reduceat(sums, starts, axis=0)
    counts = np.add.reduceat(counts, starts, axis=0)
    with np.errstate(all="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    out[:, shown] = np.where(np.logical_or.reduceat(bad, starts, axis=0), np.inf, mean)
    return out


def _levels(values: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Colour levels 0..n-1 of log10 values; _NAN for missing, _INF for non-finite data."""
    span = max(hi - lo, 1e-9)
    with np.errstate(all="ignore"):
        lev = np.clip(((values - lo) / span * (n - 0.001)), 0, n - 1)
    lev = np.where(np.isnan(values), _NAN, np.where(np.isinf(values), _INF, lev)).astype(int)
    return lev


_PALETTE = [colour(i / (LEVELS - 1)) for i in range(LEVELS)]
_STYLES: dict[tuple[int, int], Style] = {}
_DIM = Style(dim=True)
_GREY = Style(color="grey50", bgcolor="grey50")


def _style(top: int, bot: int) -> Style:
    """The cached Style of a half-block cell (upper colour, lower colour)."""
    style = _STYLES.get((top, bot))
    if style is None:
        def c(v):
            return None if v == _NAN else _NONFINITE.color if v == _INF else _PALETTE[v]
        style = _STYLES[(top, bot)] = Style(color=c(top), bgcolor=c(bot))
    return style


def gutter_label(y: int, rows: int, n_layers: int) -> str:
    """The layer index beside text row ``y``: "in" and "out" at the ends; then every
    fourth row when each row holds a layer or more, else each layer's first row."""
    if y == 0:
        return "in"
    if y == rows - 1:
        return "out"
    first = int(y * n_layers / rows)
    if n_layers >= rows:
        return str(first) if y % 4 == 0 else ""
    return str(first) if first != int((y - 1) * n_layers / rows) else ""


class GradHeatmap(Widget):
    """The layers x time heatmap of one grad view, drawn from a RunState."""

    DEFAULT_CSS = """
    GradHeatmap { height: 1fr; min-height: 4; }
    """

    def __init__(self, state: RunState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.view = 0
        self.cursor: int | None = None   # review's cursor step, drawn as a column
        self.scale: tuple[float, float] | None = None   # log10 (lo, hi); None: the run's own
        self.span: int | None = None     # the time axis' last step, or None: the run's own
        self.shown_range: tuple[float, float] | None = None   # the range last drawn
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
        xs, samples = s.grads.points()
        if not samples or h < 2 or w <= GUTTER + 1:
            msg = "waiting for gradient statistics..." if s.live or not s.ended else "no gradient statistics"
            return [Strip([Segment(msg[:w], _PLAIN)])] + [Strip.blank(w, _PLAIN)] * (h - 1)
        col = STAT_COLUMNS.index(self.view_column)
        rows = h - 1
        no_color = getattr(self.app, "no_color", False)
        pick = pick_columns(xs, w - GUTTER, self.span)
        pix = grid(samples, col, rows if no_color else 2 * rows, w - GUTTER, pick)
        if self.scale is None:
            lo, hi = log_range(np.abs(np.stack([x[:, col] for x in samples])))
        else:
            lo, hi = self.scale
        self.shown_range = (lo, hi)
        frozen = s.frozen if len(s.frozen) == samples[0].shape[0] else []
        levels = _levels(pix, lo, hi, 5 if no_color else LEVELS)
        strips = [self._row(levels, y, no_color, frozen, rows) for y in range(rows)]
        if self.cursor is not None:
            strips = self._mark(strips, xs, pick, w)
        strips.append(self._legend(lo, hi, w, no_color))
        return strips

    def _row(self, levels: np.ndarray, y: int, no_color: bool, frozen: list[bool],
             rows: int) -> Strip:
        """Text row ``y``: the gutter, then one cell per column (two pixel rows in colour)."""
        n_layers = len(self.state.layers) or 1
        first = int(y * n_layers / rows)
        segs = [Segment(f"{gutter_label(y, rows, n_layers):>{GUTTER - 1}} ", _DIM)]
        is_frozen = bool(frozen) and all(frozen[first:max(first + 1, int((y + 1) * n_layers / rows))])
        if no_color:
            for v in levels[y].tolist():
                segs.append(Segment("!" if v == _INF else " " if v == _NAN else _SHADES[v], _PLAIN))
            return Strip(segs)
        if is_frozen:
            return Strip(segs + [Segment("▀" * levels.shape[1], _GREY)])
        top, bot = levels[2 * y], levels[2 * y + 1]
        # Runs of equal cells become one segment: fewer objects to build and to paint.
        code = (top + 2) * (LEVELS + 2) + (bot + 2)
        ends = np.flatnonzero(np.diff(code)).tolist() + [len(code) - 1]
        start = 0
        top_l, bot_l = top.tolist(), bot.tolist()
        for end in ends:
            segs.append(Segment("▀" * (end - start + 1), _style(top_l[start], bot_l[start])))
            start = end + 1
        return Strip(segs)

    def _mark(self, strips: list[Strip], xs: list, pick: list[int], w: int) -> list[Strip]:
        """Overdraw the column (``pick``: each one's first sample) nearest the cursor step."""
        if not any(i >= 0 for i in pick):
            return strips
        c = int(np.argmin([abs(xs[i] - self.cursor) if i >= 0 else math.inf for i in pick]))
        x = GUTTER + c
        mark = Strip([Segment("┃", _CURSOR)])
        return [Strip.join([st.crop(0, x), mark, st.crop(x + 1, w)]) for st in strips]

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
