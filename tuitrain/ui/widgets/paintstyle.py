"""PaintStyle: a widget's Rich style worked out once per paint instead of once per line.

``DOMNode.rich_style`` walks every ancestor's styles each time it is read, and Textual's
line widgets (``RichLog``, and this project's line views) read it for every line they
draw: a third of the event log's drawing time, measured. Within one ``render_lines``
call the styles cannot change, so a widget that mixes this in reads it once there.
"""

from __future__ import annotations

from rich.style import Style
from textual.dom import DOMNode


class PaintStyle:
    """Mix in before the widget class: ``class EventLog(PaintStyle, RichLog)``."""

    _paint_style: Style | None = None

    def render_lines(self, crop):
        self._paint_style = DOMNode.rich_style.fget(self)
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    @property
    def rich_style(self) -> Style:
        style = self._paint_style
        return DOMNode.rich_style.fget(self) if style is None else style
