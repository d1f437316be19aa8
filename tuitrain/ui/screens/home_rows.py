"""What the Home screen lists: preset rows (each preset loaded, or its one-line error)
and run rows (short name, status colour, duration, age), without the screen itself."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuitrain.catalog import list_presets
from tuitrain.preset import Preset, PresetError, load_preset
from tuitrain.runlog import RunSummary, list_runs


@dataclass
class PresetRow:
    """One row of the preset list: a valid preset, or a file with its one-line error."""

    name: str
    path: Path
    preset: Preset | None = None
    error: str | None = None
    origin: str = "shipped"

    @property
    def chapter(self) -> str:
        return (self.preset.chapter or "") if self.preset else ""

    @property
    def description(self) -> str:
        if self.preset is None:
            return self.error or ""
        text = self.preset.description
        # Shipped descriptions start with "R01: ..."; the Run column already says so.
        if self.chapter and text.startswith(f"{self.chapter}: "):
            text = text[len(self.chapter) + 2:]
        return text


def load_preset_rows(extra_dirs: list[Path] = ()) -> list[PresetRow]:
    """The catalog's presets (shipped, then the user's), each loaded for starting a run."""
    entries = []
    for item in list_presets(extra_dirs):
        try:
            preset, error = (load_preset(item.path), None) if item.ok else (None, item.error)
        except PresetError as exc:
            preset, error = None, str(exc)
        if error:
            # The row already names the file; keep "field: reason".
            error = error.removeprefix(f"{item.path}: ")
        entries.append(PresetRow(item.name, item.path, preset, error, item.origin))
    return entries


def load_runs(logs_dir: Path) -> list[RunSummary]:
    """Run summaries from the run log, newest first."""
    return list_runs(logs_dir)


def ago(started_at: float | None, now: float | None = None) -> str:
    """When a run started, as "3 h ago"."""
    if not started_at:
        return "-"
    delta = (now or time.time()) - started_at
    for unit, secs in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= secs:
            return f"{int(delta // secs)} {unit} ago"
    return "just now"


def duration_text(seconds: Any) -> str:
    """A run's duration as m:ss or h:mm:ss."""
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        return "-"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def short_run_name(run: RunSummary) -> str:
    """The preset part of a run folder's name."""
    # Folder names are "<date>_<time>_<preset>"; the Started column already has the time.
    stem = run.name.split("_", 2)
    return stem[2] if len(stem) == 3 and stem[0][:2].isdigit() else run.name


STATUS_STYLE = {
    "finished": "green", "running": "cyan", "paused": "yellow", "stopped": "yellow",
    "interrupted": "yellow", "failed": "bold red",
}
