"""HelpScreen: every key of the screen it was opened from, generated from its bindings.

Nothing here is written by hand: the keys (after any user keymap), descriptions and
tooltips come from the Binding objects, so help cannot drift from what the keys do.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


APP_KEYS = (("ctrl+p", "Command palette", "Search every action that applies now"),
            ("ctrl+q", "Quit", "Same as q: asks before stopping a live run"))


def binding_rows(screen: Screen) -> list[tuple[str, str, str, bool, str]]:
    """(keys, description, tooltip, available now, binding id for keymaps) for the screen's own bindings (those
    with an id: the keymap-able ones), then the app-wide keys."""
    app = screen.app
    rows: dict[str, list] = {}
    for _key, b in screen._bindings:
        if not b.id or not b.description:
            continue
        if b.action not in rows:
            ok = screen.check_action(b.action.partition("(")[0], ())
            rows[b.action] = [[], b.description, b.tooltip or "", bool(ok), b.id]
        shown = app.get_key_display(b)
        if shown not in rows[b.action][0]:
            rows[b.action][0].append(shown)
    out = [(" ".join(k), d, t, ok, i) for k, d, t, ok, i in rows.values()]
    return out + [(k, d, t, True, "") for k, d, t in APP_KEYS]


class HelpScreen(ModalScreen[None]):
    """The keys and what they do; escape, ? or q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, origin: Screen):
        super().__init__()
        self.origin = origin

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help-dialog") as box:
            box.border_title = "Keys"
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static("ctrl+p opens the command palette with all of these. "
                         "Dimmed keys do not apply right now.", classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "details", "keymap id")
        for keys, desc, tip, ok, ident in binding_rows(self.origin):
            style = "" if ok else "dim"
            table.add_row(Text(keys, style="bold " + style), Text(desc, style=style),
                          Text(tip, style="dim"), Text(ident, style="dim italic"))
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
