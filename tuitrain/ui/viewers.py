"""The screens and apps that open saved or running runs from their folders.

``review_screen(folders)``: one folder opens :class:`ReviewScreen`, several open
:class:`CompareScreen`. ``make_review_app`` / ``make_attach_app`` build the app around
them (the CLI's ``review`` and ``attach``, and the tests); ``tuitrain.ui.app.main_review``
and ``main_attach`` run those apps for the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.screen import Screen

from tuitrain.runlog import RunLog


def review_screen(folders: Iterable[str | Path]) -> Screen:
    """Review of one run, or comparison of several."""
    logs = [RunLog.load(f) for f in folders]
    if not logs:
        raise ValueError("no run to review")
    if len(logs) == 1:
        from tuitrain.ui.screens.review import ReviewScreen
        return ReviewScreen(logs[0])
    from tuitrain.ui.screens.compare import CompareScreen
    return CompareScreen(logs)


def attach_screen(folder: str | Path, logs_dir: str | Path = "logs",
                  source: str | None = None) -> Screen:
    from tuitrain.ui.attach import AttachScreen
    return AttachScreen(folder, logs_dir=logs_dir, source=source)


def make_review_app(folders: Iterable[str | Path], logs_dir: str | Path = "logs"):
    """The app opened on the review (one folder) or compare (several) screen."""
    from tuitrain.ui.app import TuitrainApp
    folders = list(folders)
    return TuitrainApp(logs_dir=logs_dir, initial_screen=lambda: review_screen(folders))


def make_attach_app(folder: str | Path, logs_dir: str | Path = "logs", *,
                    source: str | None = None):
    """The app opened on the attached dashboard of the run in ``folder``; ``source``
    names the viewer in the run's journal (default ``viewer:<pid>``)."""
    from tuitrain.ui.app import TuitrainApp
    return TuitrainApp(logs_dir=logs_dir,
                       initial_screen=lambda: attach_screen(folder, logs_dir, source))
