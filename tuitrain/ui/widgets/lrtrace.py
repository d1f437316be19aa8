"""LrTrace: the learning rate per step (log scale when it spans decades), the clipping
threshold on the right axis, and a vertical marker wherever a control changed the run."""

from __future__ import annotations

import math

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.curves import CURSOR, finite_points, int_ticks, thin, y_ticks
from tuitrain.ui.widgets.plotstrips import StripPlot

_LR = (120, 220, 120)
_CLIP = (200, 120, 255)
_MARK = (255, 90, 90)


class LrTrace(StripPlot):
    """lr trace with clip threshold and control markers, from a RunState."""

    def __init__(self, state: RunState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.log_scale = False
        self.cursor: int | None = None   # review's cursor step
        self.drawn_to: int | None = None

    def update_view(self) -> None:
        s, plt = self.state, self.plt
        plt.clear_figure()
        xs, ys = thin(*finite_points(*s.lr_s.points()), self.size.width)
        pos = [y for y in ys if y > 0]
        self.log_scale = bool(pos) and max(pos) / min(pos) >= 10
        if self.log_scale:
            plt.yscale("log")
        if xs:
            plt.plot(xs, ys, color=_LR, marker="braille")
        cx, cy = thin(*finite_points(*s.clip_s.points()), self.size.width)
        if cx:
            plt.plot(cx, cy, color=_CLIP, marker="braille", yside="right")
        lo = xs[0] if xs else 0
        for m in list(s.markers)[-30:]:
            if m.step >= lo:
                plt.vline(max(m.step, 1), _MARK)
        if self.cursor is not None and xs:
            plt.vline(self.cursor, CURSOR)
        int_ticks(plt, xs, self.size.width)
        if not self.log_scale:
            y_ticks(plt, ys, self.size.height)
        plt.frame(True)
        self.drawn_to = max(xs) if xs else None   # the last step on the axis now shown
        self.changed()

    @property
    def caption(self) -> str:
        s = self.state
        bits = [f"[#78dc78]━ lr {s.lr:.3g}[/]" if math.isfinite(s.lr) else "[#78dc78]━ lr[/]"]
        if self.log_scale:
            bits.append("log")
        if s.clip_mode != "off":
            bits.append(f"[#c878ff]━ clip {s.clip_mode} {s.clip_threshold:g}[/]")
        if s.markers:
            bits.append(f"[#ff5a5a]│ {len(s.markers)} ctl[/]")
        return " · ".join(bits)
