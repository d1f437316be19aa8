"""The Home screen: shipped and user presets, recent runs, and the keys that start, edit or
review them.

The screen only posts intentions (:class:`HomeScreen.StartRun`, :class:`HomeScreen.ReviewRuns`)
for the app to act on; editing is handled here, by pushing the preset editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from tuitrain.preset import Preset
from tuitrain.runlog import RunSummary
from tuitrain.ui.commands import binding_commands
from tuitrain.ui.screens.home_rows import (STATUS_STYLE, PresetRow, ago, duration_text,
                                           load_preset_rows, load_runs, short_run_name)


class HomeScreen(Screen):
    """Two lists, presets and recent runs; Enter starts or reviews, ``e`` edits."""

    @dataclass
    class StartRun(Message):
        """Start a run of ``preset`` (``path`` is the file it came from, if saved)."""

        preset: Preset
        path: Path | None

    @dataclass
    class EditPreset(Message):
        """Open a preset file in the editor (handled by the Home screen itself)."""

        path: Path

    @dataclass
    class ReviewRuns(Message):
        """Review one run folder, or several together to compare them."""

        folders: list[Path]

    BINDINGS = [
        Binding("enter", "start", "Start", priority=True, id="home.start",
                tooltip="Start a run of the highlighted preset"),
        Binding("enter", "open_run", "Review", priority=True, id="home.open_run",
                tooltip="Review the highlighted run"),
        Binding("e", "edit", "Edit", id="home.edit",
                tooltip="Open the highlighted preset in the editor"),
        Binding("space", "mark", "Mark", id="home.mark",
                tooltip="Mark or unmark the highlighted run for comparison"),
        Binding("r", "review", "Review", id="home.review",
                tooltip="Review the marked runs together (or the highlighted run)"),
        Binding("tab", "switch_list", "Switch list", id="home.switch_list",
                tooltip="Move between the preset list and the run list"),
    ]

    DEFAULT_CSS = """
    HomeScreen { layout: vertical; }
    HomeScreen .list-title { padding: 0 1; text-style: bold; color: $accent; height: 1; }
    HomeScreen .list-title.-focused { background: $accent 20%; }
    HomeScreen #presets { height: 3fr; }
    HomeScreen #runs-box { height: 2fr; }
    HomeScreen #runs { height: 1fr; }
    HomeScreen #no-runs { padding: 0 2; color: $text-muted; height: 1fr; }
    """

    def __init__(self, logs_dir: Path | str = "logs", preset_dirs: list[Path] = (),
                 user_presets_dir: Path | None = None, **kwargs: Any) -> None:
        """``preset_dirs`` add to the catalog's presets; the editor saves to
        ``user_presets_dir`` (default ``./presets``)."""
        super().__init__(**kwargs)
        self.logs_dir = Path(logs_dir)
        self.preset_dirs = list(preset_dirs)
        self.user_presets_dir = user_presets_dir
        self.entries: list[PresetRow] = []
        self.runs: list[RunSummary] = []
        self.marked: list[Path] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Presets", id="presets-title", classes="list-title")
        yield DataTable(id="presets", cursor_type="row", zebra_stripes=True)
        with Vertical(id="runs-box"):
            yield Label("Recent runs", id="runs-title", classes="list-title")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static(f"No runs yet in {self.logs_dir}/ - press Enter on a preset to start one.",
                         id="no-runs")
        yield Footer()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every key's action that applies now (the app adds them to the palette)."""
        return binding_commands(self)

    def on_mount(self) -> None:
        self.refresh_lists()
        self.query_one("#presets", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.refresh_lists()

    def refresh_lists(self) -> None:
        """Re-read presets and runs (after a run ended or a preset was saved)."""
        extra = self.preset_dirs + ([self.user_presets_dir] if self.user_presets_dir else [])
        self.entries = load_preset_rows(extra)
        self.runs = load_runs(self.logs_dir)
        folders = {Path(r.folder) for r in self.runs}
        self.marked = [f for f in self.marked if f in folders]
        self._fill_presets()
        self._fill_runs()
        self.refresh_bindings()

    def on_resize(self) -> None:
        self._fill_presets()
        self._fill_runs()

    # ------------------------------------------------------------------ tables

    def _fill_presets(self) -> None:
        table = self.query_one("#presets", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        name_w = min(26, max([len(e.name) for e in self.entries] + [6]))
        table.add_column("Preset", width=name_w, key="name")
        table.add_column("Run", width=5, key="chapter")
        # The description takes what is left, so the table never scrolls sideways
        # (3 columns x 2 cells of padding, and the scrollbar).
        table.add_column("Description", width=max(20, self.size.width - name_w - 5 - 8),
                         key="description")
        for i, e in enumerate(self.entries):
            desc = Text(e.description) if e.preset else Text(f"✗ {e.error}", style="red")
            name = Text(e.name, style="red" if e.preset is None else
                        ("cyan" if e.origin == "user" else ""))
            table.add_row(name, e.chapter, desc, key=str(i))
        self.query_one("#presets-title", Label).update(f"Presets ({len(self.entries)})")
        if self.entries:
            table.move_cursor(row=min(row, len(self.entries) - 1))

    def _fill_runs(self) -> None:
        table = self.query_one("#runs", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        fixed = (("", 1), ("Status", 11), ("Epochs", 7), ("Val acc", 7), ("Time", 7),
                 ("Started", 9))
        run_w = min(40, max(12, self.size.width - sum(w for _, w in fixed) - 2 * 7 - 2))
        for label, width in fixed[:1] + (("Run", run_w),) + fixed[1:]:
            table.add_column(label, width=width)
        for i, r in enumerate(self.runs):
            status = str(getattr(r, "status", "?"))
            acc = getattr(r, "best_val_accuracy", None)
            total = getattr(r, "epochs_total", None)
            table.add_row(
                Text("●", style="bold magenta") if Path(r.folder) in self.marked else " ",
                short_run_name(r),
                Text(status, style=STATUS_STYLE.get(status, "")),
                f"{getattr(r, 'epochs_done', 0)}/{total if total else '?'}",
                f"{acc:.4f}" if isinstance(acc, (int, float)) else "-",
                duration_text(getattr(r, "duration_s", None)),
                ago(getattr(r, "started_at", None)),
                key=str(i),
            )
        table.display = bool(self.runs)
        self.query_one("#no-runs").display = not self.runs
        marked = f", {len(self.marked)} marked" if self.marked else ""
        self.query_one("#runs-title", Label).update(f"Recent runs ({len(self.runs)}{marked})")
        if self.runs:
            table.move_cursor(row=min(row, len(self.runs) - 1))

    def _focused_list(self) -> str:
        focused = self.focused
        return focused.id if isinstance(focused, DataTable) else "presets"

    def current_entry(self) -> PresetRow | None:
        """The highlighted preset row."""
        row = self.query_one("#presets", DataTable).cursor_row
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def current_run(self) -> Any | None:
        """The highlighted run summary."""
        row = self.query_one("#runs", DataTable).cursor_row
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def on_data_table_row_highlighted(self) -> None:
        self.refresh_bindings()

    def on_descendant_focus(self) -> None:
        which = self._focused_list()
        self.query_one("#presets-title").set_class(which == "presets", "-focused")
        self.query_one("#runs-title").set_class(which == "runs", "-focused")
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a key that belongs to the other list; None shows it disabled.
        on_presets = self._focused_list() == "presets"
        if action == "start":
            if not on_presets:
                return False
            entry = self.current_entry()
            return True if entry is not None and entry.preset is not None else None
        if action == "edit":
            if not on_presets:
                return False
            entry = self.current_entry()
            return True if entry is not None and entry.path is not None else None
        if action in ("open_run", "mark"):
            if on_presets:
                return False
            return True if self.runs else None
        if action == "review":
            return True if self.runs else None
        return True

    def action_start(self) -> None:
        entry = self.current_entry()
        if entry is not None and entry.preset is not None:
            self.post_message(self.StartRun(entry.preset, entry.path))

    def action_edit(self) -> None:
        entry = self.current_entry()
        if entry is not None and entry.path is not None:
            self.post_message(self.EditPreset(entry.path))

    def on_home_screen_edit_preset(self, message: EditPreset) -> None:
        # Handled here, not by the app, so there is one editor whoever else listens.
        message.stop()
        from tuitrain.ui.screens.editor import EditorScreen

        self.app.push_screen(EditorScreen(message.path, presets_dir=self.user_presets_dir))

    def action_open_run(self) -> None:
        run = self.current_run()
        if run is not None:
            self.post_message(self.ReviewRuns([Path(run.folder)]))

    def action_mark(self) -> None:
        run = self.current_run()
        if run is None:
            return
        folder = Path(run.folder)
        if folder in self.marked:
            self.marked.remove(folder)
        else:
            self.marked.append(folder)
        self._fill_runs()
        table = self.query_one("#runs", DataTable)
        table.move_cursor(row=min(table.cursor_row + 1, len(self.runs) - 1))

    def action_review(self) -> None:
        if self.marked:
            self.post_message(self.ReviewRuns(list(self.marked)))
        else:
            self.action_open_run()

    def action_switch_list(self) -> None:
        target = "#runs" if self._focused_list() == "presets" and self.runs else "#presets"
        self.query_one(target, DataTable).focus()
