"""ViewerScreen: what the read-only screens (review, compare) share: back, help, quit and
their palette entries. Nothing here can steer a run."""

from __future__ import annotations

from textual.screen import Screen

from tuitrain.ui.screens.help import HelpScreen
from tuitrain.ui.commands import binding_commands


class ViewerScreen(Screen):
    """Base of read-only screens: quitting never asks, since no run lives here."""

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

    def action_quit(self) -> None:
        self.app.exit()

    def palette_commands(self):
        return binding_commands(self)
