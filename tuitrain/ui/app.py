"""TuitrainApp: the Textual application, its factory and the CLI entry point.

``make_app(...)`` is the one way to build the app, used by the CLI and by the tests:
with a preset it opens the dashboard and starts the run; without one it opens the Home
screen. ``run_source`` is any callable ``(preset, *, sink, control, logs_dir)`` returning an
object with ``run()``, ``control`` and ``run_dir``: the real Trainer by default, or
:class:`tuitrain.ui.scripted.ScriptedRun` for UI work without TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from tuitrain.preset import Preset, PresetError, load_preset, validate_preset
from tuitrain.ui import hangup
from tuitrain.ui.keymap import KeymapError, load_keymap
from tuitrain.ui.screens.dashboard import DashboardScreen


def train_with_engine(preset: Preset, **kwargs: Any) -> Any:
    """The default run source: the engine's Trainer.

    Called in the training worker, so TensorFlow loads there while the UI is already up.
    """
    from tuitrain.engine.trainer import Trainer

    return Trainer(preset, **kwargs)


def as_preset(preset: Any) -> Preset | None:
    """A Preset from a Preset, a dict, or a path / preset name."""
    if preset is None or isinstance(preset, Preset):
        return preset
    if isinstance(preset, dict):
        return validate_preset(preset)
    from tuitrain.catalog import resolve_preset
    return load_preset(resolve_preset(preset))


class TuitrainApp(App):
    """The tuitrain terminal app."""

    CSS_PATH = "app.tcss"
    TITLE = "tuitrain"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self, preset: Preset | None = None, *, logs_dir: str | Path = "logs",
                 run_source: Callable[..., Any] | None = None, start_screen: str = "auto",
                 preset_dirs: Iterable[str | Path] = (),
                 initial_screen: Callable[[], Screen] | None = None):
        """``initial_screen`` builds the first screen instead (review, compare, attach)."""
        super().__init__()
        self.initial_screen = initial_screen
        self.preset = preset
        self.logs_dir = Path(logs_dir)
        self.run_source = run_source or train_with_engine
        self.start_screen = start_screen
        self.preset_dirs = [Path(p) for p in preset_dirs]
        self.last_status: str | None = None
        self.keymap_error: str | None = None
        try:
            self.set_keymap(load_keymap())
        except KeymapError as exc:
            self.keymap_error = str(exc)

    def on_mount(self) -> None:
        if self.keymap_error:
            self.notify(f"{self.keymap_error} (default keys in use)", title="Keymap",
                        severity="error", timeout=10)

    def get_default_screen(self) -> Screen:
        if self.initial_screen is not None:
            return self.initial_screen()
        if self.preset is not None or self.start_screen == "dashboard":
            return self.dashboard(self.preset or as_preset("quickstart"))
        try:
            from tuitrain.ui.screens.home import HomeScreen
        except ImportError:
            return self.dashboard(as_preset("quickstart"))
        return HomeScreen(logs_dir=self.logs_dir, preset_dirs=self.preset_dirs)

    def dashboard(self, preset: Preset) -> DashboardScreen:
        return DashboardScreen(preset, run_source=self.run_source, logs_dir=self.logs_dir)

    def dashboards(self) -> list[DashboardScreen]:
        return [s for s in self.screen_stack if isinstance(s, DashboardScreen)]

    # -- messages from the Home screen ---------------------------------------------------
    def on_home_screen_start_run(self, message: Any) -> None:
        self.push_screen(self.dashboard(message.preset))

    def on_home_screen_review_runs(self, message: Any) -> None:
        from tuitrain.ui.viewers import review_screen
        try:
            screen = review_screen(message.folders)
        except (OSError, ValueError) as exc:
            self.notify(str(exc), title="Review", severity="error")
            return
        self.push_screen(screen)

    # -- app-wide --------------------------------------------------------------------
    def action_quit(self) -> None:
        # ctrl+q and the palette's Quit must not bypass the "stop the run?" question.
        live = [d for d in self.dashboards() if d.state.live]
        if live:
            if self.screen is not live[-1]:
                self.notify("A run is live: close this dialog, then q asks to stop it.")
                return
            live[-1].action_quit()
            return
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if hasattr(screen, "palette_commands"):
            yield from screen.palette_commands()


def make_app(preset: Any = None, *, logs_dir: str | Path = "logs",
             run_source: Callable[..., Any] | None = None, start_screen: str = "auto",
             preset_dirs: Iterable[str | Path] = ()) -> TuitrainApp:
    """Build the app (CLI and tests): ``preset`` may be a Preset, a dict, a path or a name."""
    return TuitrainApp(as_preset(preset), logs_dir=logs_dir, run_source=run_source,
                       start_screen=start_screen, preset_dirs=preset_dirs)


def main_ui(args: argparse.Namespace) -> int:
    """Run the app for the CLI; 1 when the run failed, else 0."""
    preset = getattr(args, "preset_obj", None)
    if preset is None and getattr(args, "preset", None):
        from tuitrain.catalog import resolve_preset
        try:
            path = resolve_preset(args.preset, getattr(args, "preset_dirs", None) or ())
            preset = load_preset(path, getattr(args, "set", None) or getattr(args, "overrides", None) or [])
        except PresetError as exc:
            print(f"tuitrain: error: {exc}", file=sys.stderr)
            return 2
    app = make_app(preset, logs_dir=getattr(args, "logs_dir", None) or "logs",
                   preset_dirs=getattr(args, "preset_dirs", None) or ())
    hangup.install(app)   # SSH dropped: stop the run cleanly ("interrupted"), then exit
    app.run()
    return 1 if app.last_status == "failed" else 0


def main_review(folders: list[Path], logs_dir: str | Path = "logs") -> int:
    """``tuitrain review RUN [RUN...]``: review one run, compare several; 0."""
    from tuitrain.ui.viewers import make_review_app
    make_review_app(folders, logs_dir).run()
    return 0


def main_attach(folder: Path, logs_dir: str | Path = "logs") -> int:
    """``tuitrain attach RUN``: follow and steer a run of another process; 0 (leaving the
    viewer is not a failure; the run goes on)."""
    from tuitrain.ui.viewers import make_attach_app
    app = make_attach_app(folder, logs_dir)
    app.run()
    return 0
