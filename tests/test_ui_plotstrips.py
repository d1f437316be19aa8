"""plotext's ANSI output turned straight into strips: same text, same colours."""

from __future__ import annotations

import re

import plotext
from rich.color import Color

from tuitrain.ui.widgets.plotstrips import ansi_to_strips

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
