"""EventLog: the run's journal as it happens (controls, alerts, checkpoints, notices)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from tuitrain.ui.runstate import RunState
from tuitrain.ui.widgets.paintstyle import PaintStyle

LEVEL_STYLES = {
    "info": ("·", "dim"), "epoch": ("◆", "cyan"), "control": ("▶", "bold green"),
    "checkpoint": ("⬇", "bold blue"), "warning": ("⚠", "bold yellow"), "error": ("✖", "bold red"),
}


class EventLog(PaintStyle, RichLog):
    """Appends the RunState's new log lines (it keeps a bounded history of its own).

    It follows the newest line while it is scrolled to the end; scrolled back, it stays
    where the reader is. New lines and the scroll that follows them are drawn in one
    repaint (RichLog's own auto-scroll waits for the next one, so each batch of lines
    was drawn twice).
    """

    DEFAULT_CSS = """
    EventLog { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    # A new line grows the virtual size. Textual's default lays the whole screen out
    # again for that and repaints every panel (the live dashboard's largest UI cost);
    # the log's own size never depends on its lines, so only its scrollbars follow.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def __init__(self, state: RunState, **kwargs):
        super().__init__(max_lines=1000, wrap=True, markup=False, auto_scroll=True, min_width=20,
                         **kwargs)
        self.state = state
        self._seen = 0

    def update_view(self) -> None:
        s = self.state
        new = s.log_seq - self._seen
        if new <= 0:
            return
        lines = list(s.log)[-min(new, len(s.log)):]
        self._seen = s.log_seq
        # Before its size is known RichLog defers the writes and scrolls by itself.
        sized = bool(self.size.width)
        follow = self.scroll_y >= self.max_scroll_y
        for line in lines:
            icon, style = LEVEL_STYLES.get(line.level, ("·", ""))
            stamp = time.strftime("%H:%M:%S", time.localtime(line.t))
            self.write(Text.assemble((stamp + " ", "dim"), (icon + " ", style),
                                     (line.text, style if line.level in ("error", "warning") else "")),
                       scroll_end=None if not sized else False)
        if sized and follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def texts(self) -> list[str]:
        """Plain text of the lines shown (tests and review read it)."""
        return [strip.text for strip in self.lines]
