"""CompareScreen: several saved runs side by side (``tuitrain review RUN1 RUN2 ...``).

Loss, accuracy and learning rate of every run overlaid, one colour per run, with one
legend naming the runs; a summary line per run; the control events each run received;
and the preset diff: every preset field (dotted path) whose value is not the same in all
runs, with each run's value. ``g`` swaps the curves for the runs' gradient heatmaps side
by side, on one colour scale and one time axis, then steps through the views (gradient
norm, update ratio, activation std) and back. ``o`` (or enter on a run) opens one run in review.
"""

from __future__ import annotations

import math
import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from tuitrain.runlog import RunLog
from tuitrain.ui.presetdiff import preset_diff, show
from tuitrain.ui.replay import replay
from tuitrain.ui.journal import describe_control
from tuitrain.ui.runstate import RunState
from tuitrain.ui.screens.viewer import ViewerScreen
from tuitrain.ui.widgets.gradcompare import GradCompare
from tuitrain.ui.widgets.header import STATE_STYLES, duration
from tuitrain.ui.widgets.heatmap import GRAD_VIEWS
from tuitrain.ui.widgets.overlay import OverlayPlot, hex_colour

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_")


def run_names(logs: list[RunLog]) -> list[str]:
    """Short, distinct names: preset names if they differ, else folder names without
    their timestamp, else whole folder names."""
    for names in ([str(log.preset.get("name") or log.name) for log in logs],
                  [_STAMP.sub("", log.name) for log in logs],
                  [log.name for log in logs]):
        if len(set(names)) == len(names):
            return names
    return [f"{i + 1}:{log.name}" for i, log in enumerate(logs)]


def _best(state: RunState, key: str, best=max) -> float | None:
    vals = [m[key] for _, _, m in state.epoch_metrics
            if isinstance(m.get(key), (int, float)) and math.isfinite(m[key])]
    return best(vals) if vals else None


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2%}"


class CompareScreen(ViewerScreen):
    """Curves of several runs overlaid, their controls and their preset diff."""

    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    #cmp-legend { height: auto; padding: 0 1; background: $panel; }
    #cmp-plots, #cmp-grads { height: 3fr; min-height: 8; }
    #cmp-grads { display: none; }
    CompareScreen.-grads #cmp-grads { display: block; }
    CompareScreen.-grads #cmp-plots { display: none; }
    #cmp-lower { height: 2fr; min-height: 8; }
    #cmp-left { width: 1fr; }
    #cmp-runs { height: auto; max-height: 50%; }
    /* Short terminals (the app's -short class, under 32 lines: 80x24): the tables get
       half the height, and the runs table room for its rows beside its scrollbar. */
    CompareScreen.-short #cmp-plots, CompareScreen.-short #cmp-grads { height: 1fr; }
    CompareScreen.-short #cmp-lower { height: 1fr; }
    CompareScreen.-short #cmp-runs { max-height: 75%; }
    #cmp-controls { height: 1fr; }
    #cmp-diff { width: 1fr; }
    OverlayPlot { width: 1fr; border: round $primary 50%; border-title-color: $text-accent;
                  border-subtitle-color: $text-muted; }
    #cmp-runs, #cmp-controls, #cmp-diff { border: round $primary 50%;
        border-title-color: $text-accent; border-subtitle-color: $text-muted; }
    #cmp-runs:focus, #cmp-controls:focus, #cmp-diff:focus { border: round $accent; }
    """

    BINDINGS = [
        Binding("o", "open_run", "Review run", id="compare.open",
                tooltip="Open the highlighted run (runs table) in review, with its cursor"),
        Binding("g", "grad_view", "Grads", id="compare.grad_view",
                tooltip="Every run's gradient heatmap on one colour scale (again: next view)"),
        Binding("tab", "app.focus_next", "Next panel", id="compare.focus", show=False,
                tooltip="Move between the runs, controls and preset diff tables"),
        Binding("escape", "back", "Back", id="compare.back", show=False,
                tooltip="Back to the previous screen"),
        Binding("question_mark", "help", "Help", key_display="?", id="compare.help",
                tooltip="Every key and what it does"),
        Binding("q", "quit", "Quit", id="compare.quit", tooltip="Quit (saved runs are never changed)"),
    ]

    def __init__(self, logs: list[RunLog], states: list[RunState] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.logs = logs
        self.states = states if states is not None else [replay(log) for log in logs]
        self.run_labels = run_names(logs)
        self.diff, self.equal = preset_diff([log.preset for log in logs])

    def compose(self) -> ComposeResult:
        runs = list(zip(self.run_labels, self.states))
        yield Static(self.legend(), id="cmp-legend")
        with Horizontal(id="cmp-plots"):
            for metric in ("loss", "accuracy", "lr"):
                yield OverlayPlot(runs, metric, id=f"cmp-{metric}")
        yield GradCompare(runs, id="cmp-grads")
        with Horizontal(id="cmp-lower"):
            with Vertical(id="cmp-left"):
                yield DataTable(id="cmp-runs", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="cmp-controls", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="cmp-diff", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def legend(self) -> Text:
        parts: list[Text] = [Text("compare  ", style="bold")]
        for i, (name, st) in enumerate(zip(self.run_labels, self.states)):
            parts.append(Text.assemble((f"━━ {name}", f"bold {hex_colour(i)}"), " ",
                                       (f" {st.state} ", STATE_STYLES.get(st.state, "reverse")), "   "))
        return Text.assemble(*parts)

    def on_mount(self) -> None:
        self.sub_title = "compare · " + " vs ".join(self.run_labels)
        self._fill_runs()
        self._fill_controls()
        self._fill_diff()
        self.query_one("#cmp-runs", DataTable).focus()

    def _run_label(self, i: int) -> Text:
        return Text(self.run_labels[i], style=f"bold {hex_colour(i)}")

    def _fill_runs(self) -> None:
        table = self.query_one("#cmp-runs", DataTable)
        table.border_title = "runs"
        table.add_columns("run", "status", "epochs", "steps", "best val acc", "best val loss",
                          "test acc", "controls", "duration")
        for i, (log, st) in enumerate(zip(self.logs, self.states)):
            test = st.test_metrics.get("test_accuracy")
            best_loss = _best(st, "val_loss", min)
            table.add_row(self._run_label(i), Text(st.state, style=STATE_STYLES.get(st.state, "")),
                          f"{len(st.epoch_metrics)}/{st.epochs or '?'}", f"{st.step:,}",
                          _pct(_best(st, "val_accuracy")),
                          "—" if best_loss is None else f"{best_loss:.4f}",
                          _pct(test if isinstance(test, (int, float)) else None),
                          str(len(log.controls)), duration(st.elapsed()), key=str(i))

    def _fill_controls(self) -> None:
        table = self.query_one("#cmp-controls", DataTable)
        table.border_title = "controls each run received"
        table.add_columns("run", "step", "control", "source")
        total = 0
        for i, log in enumerate(self.logs):
            if not log.controls:
                table.add_row(self._run_label(i), "", Text("none", style="dim"), "")
            for c in log.controls:
                total += 1
                table.add_row(self._run_label(i), f"{c.step:,}", describe_control(c.command, c.args),
                              Text(c.source, style="dim"))
        table.border_subtitle = f"{total} control{'s' * (total != 1)}"

    def _fill_diff(self) -> None:
        table = self.query_one("#cmp-diff", DataTable)
        table.border_title = "preset diff"
        table.border_subtitle = (f"{len(self.diff)} field{'s' * (len(self.diff) != 1)} differ · "
                                 f"{self.equal} equal")
        table.add_column("field", key="field")
        for i in range(len(self.logs)):
            table.add_column(self._run_label(i), key=f"run{i}")
        if not self.diff:
            table.add_row(Text("the presets are identical", style="dim"), *[""] * len(self.logs))
        for d in self.diff:
            table.add_row(Text(d.path, style="bold"), *[Text(show(v), style=hex_colour(i))
                                                       for i, v in enumerate(d.values)], key=d.path)

    def diff_paths(self) -> list[str]:
        """The preset fields shown as differing (tests and scripts read them)."""
        return [d.path for d in self.diff]

    # -- keys -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return len(self.app.screen_stack) > 1
        return True

    @property
    def grad_view(self) -> int | None:
        """The GRAD_VIEWS index shown in place of the curves; None: the curves."""
        return self.query_one(GradCompare).view if self.has_class("-grads") else None

    def action_grad_view(self) -> None:
        view = self.grad_view
        view = 0 if view is None else view + 1
        if view == len(GRAD_VIEWS):
            self.remove_class("-grads")
            self.app.notify("curves: loss, accuracy, learning rate", timeout=2)
            return
        title = self.query_one(GradCompare).show_view(view)
        self.add_class("-grads")
        self.app.notify(f"heatmaps: {title}, one colour scale for every run", timeout=2)

    def action_open_run(self) -> None:
        row = self.query_one("#cmp-runs", DataTable).cursor_row
        self.open_run(max(0, row))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "cmp-runs":
            self.open_run(event.cursor_row)

    def open_run(self, i: int) -> None:
        from tuitrain.ui.screens.review import ReviewScreen
        if 0 <= i < len(self.logs):
            self.app.push_screen(ReviewScreen(self.logs[i], replay(self.logs[i])))

