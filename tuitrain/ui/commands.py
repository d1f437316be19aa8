"""The command palette's entries for a screen's keys: every binding that applies now."""

from __future__ import annotations

from typing import Iterable

from textual.app import SystemCommand
from textual.screen import Screen


def binding_commands(screen: Screen) -> Iterable[SystemCommand]:
    """The screen's key actions that apply now, as command-palette entries."""
    seen: set[str] = set()
    for _key, b in screen._bindings:
        if b.action in seen or not screen.check_action(b.action, ()):
            continue
        seen.add(b.action)
        yield SystemCommand(f"{b.description} ({screen.app.get_key_display(b)})",
                            b.tooltip or b.description, lambda a=b.action: screen.run_action(a))
