"""plotext's output turned straight into strips: same text, same colours."""

from __future__ import annotations

import re

import plotext
from rich.color import Color

from plotext._figure import _figure_class

from tuitrain.ui.widgets.plotstrips import ansi_to_strips, matrix_to_strips

_SGR = re.compile(r"\x1b\[[0-9;]*m")


def test_a_real_plotext_plot_keeps_its_text_and_colours():
    plt = plotext
    plt.clear_figure()
    plt.plotsize(50, 14)
    xs = list(range(200))
    plt.plot(xs, [1 / (1 + x / 20) for x in xs], color=(80, 160, 255), marker="braille")
    plt.plot([50, 100, 150], [0.5, 0.4, 0.3], color=(255, 170, 40), marker="dot")
    plt.frame(True)
    out = plt.build()
    strips = ansi_to_strips(out, 50)
    plain = _SGR.sub("", out).split("\n")
    assert len(strips) == len(plain) >= 14
    for strip, line in zip(strips, plain):
        assert strip.cell_length == 50
        assert strip.text.rstrip() == line.rstrip()
    colours = {seg.style.color for strip in strips for seg in strip if seg.style and seg.text.strip()}
    assert Color.from_rgb(80, 160, 255) in colours
    assert Color.from_rgb(255, 170, 40) in colours


def test_sgr_codes_map_to_styles_and_reset():
    (strip,) = ansi_to_strips("\x1b[1;38;5;196;48;2;1;2;3mX\x1b[0mY\x1b[31mZ", 5)
    x, y, z = list(strip)[:3]
    assert (x.text, y.text, z.text[0]) == ("X", "Y", "Z")
    assert x.style.bold and x.style.color == Color.from_ansi(196)
    assert x.style.bgcolor == Color.from_rgb(1, 2, 3)
    assert not y.style.bold and y.style.color is None and y.style.bgcolor is None
    assert z.style.color == Color.from_ansi(1)
    assert strip.cell_length == 5


def _cells(strips):
    return [[(ch, seg.style) for seg in strip for ch in seg.text] for strip in strips]


def test_the_matrix_gives_the_cells_that_plotexts_ansi_text_gives():
    """What StripPlot draws (from plotext's matrix) is what plotext prints, cell by cell,
    with a theme's colours, a log axis, a right axis and a vertical line."""
    for theme, log in (("dark", False), ("pro", True), ("default", False)):
        fig = _figure_class()
        xs = list(range(1, 300, 3))
        fig.plot(xs, [1 / (1 + x / 20) for x in xs], color=(80, 160, 255), marker="braille")
        fig.plot([50, 150, 250], [0.5, 0.4, 0.3], color=(255, 170, 40), marker="dot")
        fig.plot(xs, [0.2] * len(xs), color="magenta", marker="braille", yside="right")
        fig.vline(100, (255, 90, 90))
        if log:
            fig.yscale("log")
        fig.frame(True)
        fig.plotsize(61, 19)
        fig._set_size(61, 19)
        fig.theme(theme)
        printed = ansi_to_strips(fig.build(), 61)[:19]   # plotext ends with a newline
        drawn = matrix_to_strips(fig.monitor.matrix, 61)
        assert len(drawn) == 19
        assert all(strip.cell_length == 61 for strip in drawn)
        assert _cells(drawn) == _cells(printed), theme
        assert len({style for row in _cells(drawn) for _, style in row}) >= 3
