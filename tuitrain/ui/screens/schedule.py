"""ScheduleDialog: pick a learning-rate schedule and fill in its parameters.

The form is generated from the preset's schedule models (one input per field, with the
field's docstring as help), so a new schedule kind appears here without UI code. Values
are parsed like ``--set`` overrides (TOML literals; ``100, 200`` is a list) and validated
with the same models before Apply is accepted; the reason of a refusal is shown in place.
"""

from __future__ import annotations

import tomllib
import typing
from typing import Any

from pydantic import BaseModel
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tuitrain.ui.screens.dialogs import CommandDialog
from tuitrain.preset import Preset

SCHEDULES: dict[str, type[BaseModel]] = {
    typing.get_args(cls.model_fields["kind"].annotation)[0]: cls
    for cls in typing.get_args(Preset.model_fields["schedule"].annotation)
}


def parse_value(raw: str) -> Any:
    """A field's text as a value: TOML literal, a bare comma list, or the string itself."""
    raw = raw.strip()
    for text in (raw, f"[{raw}]"):
        try:
            return tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            continue
    return raw


def show_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(show_value(x) for x in v)
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


class ScheduleDialog(CommandDialog):
    """Returns ``{"schedule": {...}, "keep_lr": bool}`` validated, or None."""

    def __init__(self, current: dict[str, Any] | None = None):
        super().__init__()
        self.current = dict(current or {"kind": "constant"})

    def compose(self) -> ComposeResult:
        kind = self.current.get("kind", "constant")
        with Vertical(classes="dialog", id="schedule-dialog") as box:
            box.border_title = "Learning-rate schedule"
            yield Static(f"Now: {kind}. The new schedule applies from the next step.",
                         classes="dialog-help")
            yield Select(((k, k) for k in SCHEDULES), value=kind, allow_blank=False,
                         id="schedule-kind")
            yield Static("", id="schedule-doc", classes="dialog-help")
            yield VerticalScroll(id="schedule-fields")
            yield Checkbox("start from the current lr (keep_lr)", value=True, id="keep-lr",
                           compact=True)
            with Vertical(classes="dialog-foot"):
                yield Static("", id="dialog-error", classes="dialog-error")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Apply", variant="primary", id="apply")
                    yield Button("Cancel", id="cancel")

    async def on_mount(self) -> None:
        await self._build_fields(self.current.get("kind", "constant"))

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "schedule-kind":
            await self._build_fields(str(event.value))

    async def _build_fields(self, kind: str) -> None:
        # Clear the old kind's error first: once the new fields are mounted, a refusal of
        # them (an Apply pressed at once) must stay on screen.
        self.query_one("#dialog-error", Static).update("")
        self.remove_class("-invalid")
        doc = (SCHEDULES[kind].__doc__ or "").strip().splitlines()[0]
        self.query_one("#schedule-doc", Static).update(doc)
        box = self.query_one("#schedule-fields", VerticalScroll)
        await box.remove_children()
        values = self.current if self.current.get("kind") == kind else {}
        widgets = []
        for name, info in SCHEDULES[kind].model_fields.items():
            if name == "kind":
                continue
            default = values.get(name, None if info.is_required() else info.default)
            need = " (required)" if info.is_required() else ""
            widgets.append(Label(f"[b]{name}[/b]{need} [dim]{info.description or ''}[/dim]"))
            widgets.append(Input(value=show_value(default), id=f"field-{name}", compact=True,
                                 placeholder="default" if not need else "required"))
        if not widgets:
            widgets.append(Static("No parameters: the optimizer's lr, changed only by controls.",
                                  classes="dialog-help"))
        await box.mount_all(widgets)

    def validated(self) -> dict[str, Any] | None:
        kind = str(self.query_one("#schedule-kind", Select).value)
        data: dict[str, Any] = {"kind": kind}
        for inp in self.query("#schedule-fields Input").results(Input):
            if inp.value.strip():
                data[inp.id.removeprefix("field-")] = parse_value(inp.value)
        keep = self.query_one("#keep-lr", Checkbox).value
        return self.checked("set_schedule", {"schedule": data, "keep_lr": keep})

