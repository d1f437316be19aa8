"""ReviewScreen: a saved run, read-only, in the dashboard's views, with a time cursor.

The screen shows the same :class:`RunBoard` as the live dashboard, fed from
:func:`tuitrain.ui.replay.replay`. A cursor moves through the run's gradient-stats samples
(left/right one sample, ``[``/``]`` or shift+arrows 10 % of the run, home/end); the
per-layer table shows the exact sample at the cursor (one line read from the log), the
heatmap and the curves draw a line there, and the scrubber line under the board gives the
step's own loss, accuracy and lr. Keys that steer a run do not exist here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from tuitrain.runlog import RunLog
from tuitrain.ui.replay import replay
from tuitrain.ui.runstate import RunState
from tuitrain.ui.screens.viewer import ViewerScreen
from tuitrain.ui.widgets.board import ALL_PANELS, RunBoard
from tuitrain.ui.widgets.curves import MetricPlot
from tuitrain.ui.widgets.heatmap import GradHeatmap
from tuitrain.ui.widgets.layertable import LayerTable
from tuitrain.ui.widgets.lrtrace import LrTrace

STEERING = frozenset({"pause", "resume", "clip", "schedule", "lr_up", "lr_down", "checkpoint", "stop"})
_SAMPLE = Binding.Group("sample")
_JUMP = Binding.Group("±10%")
_ENDS = Binding.Group("first/last")
PLOT_DELAY = 0.15   # plots follow a held arrow key at this pace; the table follows at once


class ReviewScreen(ViewerScreen):
    """One saved run: curves, lr trace, gradients and journal, and a cursor in time."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    DEFAULT_CSS = """
    ReviewScreen { layout: vertical; }
    ReviewScreen.-wide #plots { height: 2fr; }
    ReviewScreen.-wide #lower { height: 3fr; }
    ReviewScreen.-wide GradHeatmap { width: 5fr; }
    ReviewScreen.-wide LayerTable { width: 6fr; }
    ReviewScreen.-wide EventLog { width: 4fr; }
    ReviewScreen.-narrow LayerTable { display: none; }
    ReviewScreen.-narrow RunBoard.-show-table LayerTable { display: block; }
    ReviewScreen.-narrow RunBoard.-show-table GradHeatmap { display: none; }
    #scrubber { height: 1; padding: 0 1; background: $panel; }
    """

    BINDINGS = [
        Binding("left", "cursor(-1)", "Earlier sample", id="review.prev", priority=True,
                key_display="←", group=_SAMPLE, tooltip="Move the cursor one gradient-stats sample back"),
        Binding("right", "cursor(1)", "Later sample", id="review.next", priority=True,
                key_display="→", group=_SAMPLE, tooltip="Move the cursor one gradient-stats sample on"),
        Binding("left_square_bracket,shift+left", "jump(-1)", "Back 10%", id="review.jump_back",
                key_display="[", priority=True, group=_JUMP, tooltip="Move the cursor back 10% of the run"),
        Binding("right_square_bracket,shift+right", "jump(1)", "On 10%", id="review.jump_on",
                key_display="]", priority=True, group=_JUMP, tooltip="Move the cursor on 10% of the run"),
        Binding("home", "ends(0)", "First sample", id="review.first", priority=True,
                group=_ENDS, tooltip="Cursor to the first gradient-stats sample"),
        Binding("end", "ends(1)", "Last sample", id="review.last", priority=True,
                group=_ENDS, tooltip="Cursor to the last gradient-stats sample"),
        Binding("g", "grad_view", "Grads", id="review.grad_view",
                tooltip="Cycle the heatmap: gradient norms, update ratios, activation std"),
        Binding("t", "toggle_table", "Table", id="review.table", show=False,
                tooltip="Narrow terminals: show the per-layer table instead of the heatmap"),
        Binding("a", "attach", "Attach", id="review.attach",
                tooltip="The run is still going: follow and steer it live"),
        Binding("escape", "back", "Back", id="review.back", show=False,
                tooltip="Back to the previous screen"),
        Binding("question_mark", "help", "Help", key_display="?", id="review.help",
                tooltip="Every key and what it does"),
        Binding("q", "quit", "Quit", id="review.quit", tooltip="Quit (a saved run is never changed)"),
    ]

    def __init__(self, log: RunLog, state: RunState | None = None, **kwargs):
        super().__init__(**kwargs)
        self.run_log = log
        self.state = state if state is not None else replay(log)
        self.status = self.state.state
        self.index = len(log.grad_steps) - 1      # cursor: a gradient-stats sample
        self._cache: dict[int, tuple[int, np.ndarray] | None] = {}
        self._plot_timer = None

    @classmethod
    def from_folder(cls, folder: str | Path) -> "ReviewScreen":
        return cls(RunLog.load(folder))

    def compose(self) -> ComposeResult:
        yield RunBoard(self.state, id="board")
        yield Static("", id="scrubber")
        yield Footer()

    def on_mount(self) -> None:
        self.board = self.query_one(RunBoard)
        self.query_one(LayerTable).lookup = self.sample_at
        self.sub_title = f"review · {self.run_log.name}"
        self._move(self.index, plots=True)
        if self.status == "running":
            self.app.notify("This run is still going: this is a snapshot. a attaches to it live.",
                            title="Review", timeout=6)

    def on_resize(self) -> None:
        footer = self.query_one(Footer)
        footer.compact = self.size.width < 120
        footer.show_command_palette = self.size.width >= 100

    # -- the cursor -----------------------------------------------------------------
    @property
    def cursor_step(self) -> int | None:
        steps = self.run_log.grad_steps
        return int(steps[self.index]) if len(steps) and self.index >= 0 else None

    def sample_at(self, step: int) -> tuple[int, np.ndarray, int | None] | None:
        """The exact gradient stats at or before ``step`` (the table's lookup), and the
        step of the earlier sample that their costlier figures come from (None: their own)."""
        if step not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            found = self.run_log.grad_sample(step)
            self._cache[step] = None if found is None else (found[0].step, np.array(
                [[math.nan if v is None else v for v in row] for row in found[0].values],
                np.float32), found[1])
        return self._cache[step]

    def _move(self, index: int, plots: bool = False) -> None:
        n = len(self.run_log.grad_steps)
        if n:
            self.index = max(0, min(n - 1, index))
        step = self.cursor_step
        self.query_one(LayerTable).at_step = step
        self.query_one(GradHeatmap).cursor = step
        for plot in self.query(MetricPlot):
            plot.cursor = step
        self.query_one(LrTrace).cursor = step
        with self.app.batch_update():
            self.board.redraw(ALL_PANELS if plots else {"grads"})
            self._scrubber()
        if not plots:
            if self._plot_timer is not None:
                self._plot_timer.stop()
            self._plot_timer = self.set_timer(PLOT_DELAY, lambda: self.board.redraw({"curves", "lr"}))

    def _scrubber(self) -> None:
        bar = self.query_one("#scrubber", Static)
        step, n = self.cursor_step, len(self.run_log.grad_steps)
        if step is None:
            bar.update(Text("no gradient statistics in this run: nothing for the cursor", style="dim"))
            return
        cols = self.run_log.steps
        i = int(np.searchsorted(cols["step"], step, side="left"))
        line = Text.assemble(("cursor ", "bold"), (f"step {step:,}", "bold reverse"),
                             f" · sample {self.index + 1}/{n}")
        if i < len(cols["step"]) and cols["step"][i] == step:
            acc = cols["accuracy"][i]
            line.append(f" · epoch {int(cols['epoch'][i]) + 1} · loss {cols['loss'][i]:.4g}"
                        + (f" · acc {acc:.1%}" if math.isfinite(acc) else "")
                        + f" · lr {cols['lr'][i]:.3g}")
        width = max(10, self.size.width - line.cell_len - 6)
        pos = int(self.index / max(1, n - 1) * (width - 1))
        line.append("  ")
        line.append("━" * pos, style="grey50")
        line.append("●", style="bold white")
        line.append("━" * (width - 1 - pos), style="grey30")
        bar.update(line)

    def action_cursor(self, delta: int) -> None:
        self._move(self.index + delta)

    def action_jump(self, direction: int) -> None:
        self._move(self.index + direction * max(1, len(self.run_log.grad_steps) // 10))

    def action_ends(self, last: int) -> None:
        self._move(len(self.run_log.grad_steps) - 1 if last else 0)

    # -- other keys -----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        action = action.partition("(")[0]   # the palette passes "cursor(-1)"
        if action in STEERING:
            return False          # read-only: nothing here steers a run
        if action in ("cursor", "jump", "ends"):
            return True if len(self.run_log.grad_steps) > 1 else None
        if action == "toggle_table":
            return self.has_class("-narrow")
        if action == "attach":
            return self.status == "running" and self.run_log.started is not None
        if action == "back":
            return len(self.app.screen_stack) > 1
        return True

    def action_grad_view(self) -> None:
        self.app.notify(f"heatmap: {self.board.cycle_grad_view()}", timeout=2)

    def action_toggle_table(self) -> None:
        self.board.toggle_table()

    def action_attach(self) -> None:
        from tuitrain.ui.attach import AttachScreen
        self.app.switch_screen(AttachScreen(self.run_log.folder))

