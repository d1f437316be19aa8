"""Small modal dialogs: clipping, confirmation (stop, quit), the editor's "save as".

Each returns its answer through ``dismiss``: the clipping dialog a validated ``set_clip``
argument dict (or None), the confirmation dialog a bool, "save as" a preset name (or
None). Invalid values are refused inside
the dialog, with the reason shown under the field, using the same validation as the
engine's control queue, so nothing invalid ever reaches the run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tuitrain.engine.control import ControlError, validate_command

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
CLIP_MODES = (("off", "off"), ("value: clip each gradient value to [-t, t]", "value"),
              ("norm: clip each tensor's norm to t", "norm"),
              ("global norm: clip the global norm to t", "global_norm"))


class CommandDialog(ModalScreen[dict[str, Any] | None]):
    """A dialog that builds one control command: validated as you type, refused with the
    reason shown in ``#dialog-error``, dismissed with the command's arguments."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def validated(self) -> dict[str, Any] | None:
        """The command's arguments from the form, or None (reason shown)."""
        raise NotImplementedError

    def checked(self, command: str, args: dict[str, Any]) -> dict[str, Any] | None:
        error = self.query_one("#dialog-error", Static)
        try:
            out = validate_command(command, args)
        except ControlError as exc:
            error.update(f"✖ {exc}")
            self.add_class("-invalid")
            return None
        error.update("")
        self.remove_class("-invalid")
        return out

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.has_class("-invalid"):
            self.validated()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.dismiss(None)

    def action_apply(self) -> None:
        args = self.validated()
        if args is not None:
            self.dismiss(args)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ClipDialog(CommandDialog):
    """Choose the clipping mode and threshold; applied from the next step."""

    def __init__(self, mode: str = "off", threshold: float = 1.0):
        super().__init__()
        self.mode, self.threshold = mode, threshold

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="clip-dialog") as box:
            box.border_title = "Gradient clipping"
            yield Static(f"Now: {'off' if self.mode == 'off' else f'{self.mode} {self.threshold:g}'}."
                         " Changes apply from the next step.", classes="dialog-help")
            yield Label("Mode")
            yield Select(((t, v) for t, v in CLIP_MODES), value=self.mode, allow_blank=False,
                         id="clip-mode")
            yield Label("Threshold t (> 0)")
            yield Input(value=f"{self.threshold:g}", id="clip-threshold",
                        placeholder="e.g. 1.0")
            with Vertical(classes="dialog-foot"):
                yield Static("", id="dialog-error", classes="dialog-error")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Apply", variant="primary", id="apply")
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#clip-threshold", Input).focus()

    def validated(self) -> dict[str, Any] | None:
        """The set_clip arguments, or None with the reason shown in the dialog."""
        mode = self.query_one("#clip-mode", Select).value
        raw = self.query_one("#clip-threshold", Input).value.strip()
        given = {"mode": mode} if mode == "off" and not raw else {"mode": mode, "threshold": raw or None}
        return self.checked("set_clip", given)



class ConfirmDialog(ModalScreen[bool]):
    """A yes / no question; escape answers no."""

    BINDINGS = [Binding("escape", "answer(False)", "Cancel", id="dialog.cancel"),
                Binding("y", "answer(True)", "Yes", show=False, id="dialog.yes"),
                Binding("n", "answer(False)", "No", show=False, id="dialog.no")]

    def __init__(self, title: str, message: str, yes: str = "Yes", no: str = "Cancel",
                 danger: bool = True):
        super().__init__()
        self.title_text, self.message, self.yes, self.no, self.danger = title, message, yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog") as box:
            box.border_title = self.title_text
            yield Static(self.message, classes="dialog-help")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error" if self.danger else "primary", id="yes")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SaveAsScreen(ModalScreen[str | None]):
    """Asks for a preset name; dismisses with it, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save_as.cancel",
                        tooltip="Close without saving")]
    DEFAULT_CSS = """
    SaveAsScreen { align: center middle; }
    SaveAsScreen > Vertical { width: 64; height: auto; border: thick $accent;
                              background: $surface; padding: 1 2; }
    SaveAsScreen .error { color: $error; }
    """

    def __init__(self, suggestion: str, folder: Path) -> None:
        super().__init__()
        self.suggestion, self.folder = suggestion, folder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Save as a new preset in {self.folder}/")
            yield Input(self.suggestion, id="save-name", placeholder="preset name")
            yield Label("letters, digits, _ . - (Enter saves, Escape cancels)", id="save-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not _NAME.match(name):
            error = self.query_one("#save-error", Label)
            error.update("✗ a name is 1-80 letters, digits, _ . or -")
            error.add_class("error")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
