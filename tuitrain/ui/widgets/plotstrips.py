"""StripPlot: a plotext plot drawn once per change, as cached strips.

``textual_plotext.PlotextPlot`` renders by decoding plotext's ANSI output with Rich's
general decoder into a ``Text``, which Textual then converts to content and strips, on
every repaint. That was most of the dashboard's drawing cost. :class:`StripPlot` keeps
its strips until the plot's data (its ``version``), size or theme changes, and builds
them from plotext's character matrix (:func:`matrix_to_strips`): plotext's own last step
writes the matrix out as an ANSI string cell by cell, which then had to be parsed back
(about a third of a plot's drawing time at 64x27). :func:`ansi_to_strips` turns
plotext's ANSI text into the same strips (a test holds the two to each other).
"""

from __future__ import annotations

import re

import plotext._utility as plotext_utility

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual_plotext import PlotextPlot

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_STYLES: dict[tuple, Style] = {}


def _colour(spec: tuple | None) -> Color | None:
    if spec is None:
        return None
    if len(spec) == 1:
        return Color.from_ansi(spec[0])
    return Color.from_rgb(*spec)


def _style(fg: tuple | None, bg: tuple | None, bold: bool) -> Style:
    key = (fg, bg, bold)
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=_colour(fg), bgcolor=_colour(bg), bold=bold or None)
    return style


def _apply_sgr(params: str, fg, bg, bold):
    codes = [int(c) for c in params.split(";") if c] or [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            fg, bg, bold = None, None, False
        elif c == 1:
            bold = True
        elif c == 22:
            bold = False
        elif c == 39:
            fg = None
        elif c == 49:
            bg = None
        elif c in (38, 48) and i + 1 < len(codes):
            if codes[i + 1] == 5 and i + 2 < len(codes):
                value, i = (codes[i + 2],), i + 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                value, i = tuple(codes[i + 2:i + 5]), i + 4
            else:
                value = None
            if c == 38:
                fg = value
            else:
                bg = value
        elif 30 <= c <= 37 or 90 <= c <= 97:
            fg = (c - 30 if c < 90 else c - 82,)
        elif 40 <= c <= 47 or 100 <= c <= 107:
            bg = (c - 40 if c < 100 else c - 92,)
        i += 1
    return fg, bg, bold


def ansi_to_strips(text: str, width: int) -> list[Strip]:
    """One strip per line of ``text`` (SGR-coloured), each exactly ``width`` cells."""
    strips = []
    for line in text.split("\n"):
        segments = []
        fg = bg = None
        bold = False
        pos = 0
        for m in _SGR.finditer(line):
            if m.start() > pos:
                segments.append(Segment(line[pos:m.start()], _style(fg, bg, bold)))
            fg, bg, bold = _apply_sgr(m.group(1), fg, bg, bold)
            pos = m.end()
        if pos < len(line):
            segments.append(Segment(line[pos:], _style(fg, bg, bold)))
        strips.append(Strip(Segment.simplify(segments)).adjust_cell_length(width))
    return strips


_CELL_STYLES: dict[tuple, Style] = {}


def _cell_style(key: tuple) -> Style:
    """The Style of plotext's (foreground, style, background) cell colours, through the
    same SGR codes that plotext's ANSI output would use."""
    try:
        style = _CELL_STYLES.get(key)
    except TypeError:   # a colour given as a list
        key = tuple(tuple(c) if isinstance(c, list) else c for c in key)
        style = _CELL_STYLES.get(key)
    if style is None:
        fg, bg, bold = None, None, False
        for m in _SGR.finditer(plotext_utility.colors_to_ansi(*key)):
            fg, bg, bold = _apply_sgr(m.group(1), fg, bg, bold)
        style = _CELL_STYLES[key] = _style(fg, bg, bold)
    return style


def matrix_to_strips(matrix, width: int) -> list[Strip]:
    """One strip per row of plotext's character matrix (top row first), ``width`` cells.

    ``matrix`` is a built figure's ``monitor.matrix``: rows of markers, foreground,
    style and background colours, bottom row first.
    """
    strips = []
    for r in range(matrix.rows - 1, -1, -1):
        marker = matrix.marker[r]
        keys = list(zip(matrix.fullground[r], matrix.style[r], matrix.background[r]))
        segments = []
        start = 0
        for c in range(1, len(keys) + 1):
            if c == len(keys) or keys[c] != keys[start]:
                segments.append(Segment("".join(marker[start:c]), _cell_style(keys[start])))
                start = c
        strips.append(Strip(segments).adjust_cell_length(width))
    return strips


class StripPlot(PlotextPlot):
    """A PlotextPlot whose drawing is rebuilt only when :attr:`version` moves on.

    Subclasses draw with ``self.plt`` and then call :meth:`changed` (instead of just
    ``refresh``), so that the next repaint builds the plot once.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.version = 0
        self._strips: list[Strip] = []
        self._strips_key: tuple | None = None

    def changed(self) -> None:
        self.version += 1
        self.refresh()

    def update_view(self) -> None:
        """Draw the plot with ``self.plt`` from the data, then call :meth:`changed`."""
        raise NotImplementedError

    def on_resize(self) -> None:
        # Subclasses thin their points and choose their ticks for the plot's size (a
        # plot drawn before its first layout would keep 16 points and two ticks).
        self.update_view()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (self.version, width, height, self.app.theme, self.theme)
        if key != self._strips_key:
            plt = self._plot
            plt.plotsize(width, height)
            plt._set_size(width, height)   # as PlotextPlot.render does (textual-plotext#5)
            plt.theme(self._get_plotext_theme_name(self.app.theme))
            # plt.build() without its last step (the ANSI string): the matrix is enough.
            plt._set_sizes()
            plt._build_matrix()
            self._strips = matrix_to_strips(plt.monitor.matrix, width)
            self._strips_key = key
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width)
