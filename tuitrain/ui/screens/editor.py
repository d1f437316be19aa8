"""The preset editor: a form over every preset field, validated as you type.

Each change rebuilds the preset dict from the form and runs ``validate_preset``; pydantic's
errors appear under the fields they name, a summary line says whether the preset can run,
and advisories are shown as warnings. A run can only start from a validated preset.
"Save as" writes ``<presets_dir>/<name>.toml`` and never overwrites without confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import tomli_w
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantFocus
from textual.screen import Screen
from textual.widgets import Button, Collapsible, Footer, Header, Select, Static

from tuitrain.preset import (
    Preset, PresetError, field_errors, preset_to_toml_dict, read_toml, validate_preset,
)
from tuitrain.ui.commands import binding_commands
from tuitrain.ui.screens.dialogs import ConfirmDialog, SaveAsScreen
from tuitrain.ui.screens.editor_fields import Node, ScalarNode
from tuitrain.ui.screens.editor_form import ModelNode, UnionNode, build_form, locate
from tuitrain.ui.screens.home import HomeScreen

WIDE = 150


def _unknown_key_warning(data: dict, source: str) -> str | None:
    """The form shows only known fields; say so when the file has others, so that saving
    does not silently lose them."""
    try:
        validate_preset(data, source)
    except PresetError as exc:
        if exc.reason.startswith("unknown key"):
            return f"{exc}: not shown in the form, and not kept by Save as"
    return None


class EditorScreen(Screen):
    """Edit a preset file (or a Preset), start it, or save it as a new preset."""

    BINDINGS = [
        Binding("ctrl+r", "start_run", "Start run", priority=True, id="editor.start_run",
                tooltip="Start a run of this preset (only when it is valid)"),
        Binding("ctrl+s", "save_as", "Save as", priority=True, id="editor.save_as",
                tooltip="Save as a new preset file in the presets folder"),
        Binding("escape", "back", "Back", id="editor.back", tooltip="Leave the editor"),
    ]

    DEFAULT_CSS = """
    EditorScreen #form { height: 1fr; padding: 0 1; }
    EditorScreen #columns { layout: vertical; height: auto; }
    EditorScreen .column { height: auto; }
    EditorScreen.-wide #columns { layout: horizontal; }
    EditorScreen.-wide .column { width: 1fr; }
    EditorScreen.-wide .column { margin-right: 1; }
    EditorScreen Collapsible { padding: 0; border-top: none; }
    EditorScreen Collapsible Contents { padding: 0 0 0 2; }
    EditorScreen .form-field, EditorScreen .form-group, EditorScreen .group-body,
    EditorScreen .field-row { height: auto; }
    EditorScreen .field-row { margin-bottom: 0; }
    EditorScreen .field-label, EditorScreen .group-label { color: $text-muted; }
    EditorScreen .group-label { text-style: bold; color: $text; }
    EditorScreen .group-title { height: 1; }
    EditorScreen .field-row Input, EditorScreen .field-row Select { width: 1fr; }
    EditorScreen Switch { height: 1; border: none; padding: 0; width: 6; }
    EditorScreen Switch .switch--slider { color: $text-muted; background: $panel-darken-2; }
    EditorScreen Switch.-on .switch--slider { color: $success; }
    EditorScreen Switch:focus .switch--slider { background: $accent 30%; }
    EditorScreen TextArea.layers { height: 8; width: 1fr; }
    EditorScreen.-wide TextArea.layers { height: 16; }
    EditorScreen .error { color: $error; height: auto; width: 1fr; }
    EditorScreen #editor-status { height: auto; background: $panel; padding: 0 1; }
    EditorScreen #field-help { color: $text-muted; height: auto; }
    EditorScreen #advisories { color: $warning; height: auto; }
    EditorScreen #summary-row { height: auto; }
    EditorScreen #summary { width: 1fr; height: auto; }
    EditorScreen CollapsibleTitle { text-style: bold; color: $accent; }
    EditorScreen CollapsibleTitle:focus { color: $block-cursor-foreground; }
    EditorScreen #summary.-valid { color: $success; }
    EditorScreen #summary.-invalid { color: $error; }
    EditorScreen #summary-row Button { margin-left: 1; }
    """

    def __init__(self, source: Path | str | Preset | dict, presets_dir: Path | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.presets_dir = presets_dir
        self.source_path: Path | None = None
        self.load_error: str | None = None
        if isinstance(source, Preset):
            data = preset_to_toml_dict(source)
            # Defaults would bloat the layer text; a table without "type" is a Dense layer.
            data["model"]["layers"] = [l.model_dump(mode="json", exclude_defaults=True)
                                       for l in source.model.layers]
        elif isinstance(source, dict):
            data = source
        else:
            self.source_path = Path(source)
            try:
                data = read_toml(self.source_path)
            except PresetError as exc:
                data, self.load_error = {}, str(exc)
            else:
                self.load_error = _unknown_key_warning(data, self.source)
        self._data = data
        self.preset: Preset | None = None
        self.errors: dict[str, str] = {}
        self._clean: Preset | None = None

    @property
    def source(self) -> str:
        return str(self.source_path) if self.source_path else "<editor>"

    def compose(self) -> ComposeResult:
        # Widgets with initial values need a running app: the form is built here.
        self.form = build_form(Preset, self._data)
        self._tags = {id(n.selector.control): n.selector.value()
                      for n in self.form.nodes() if isinstance(n, UnionNode)}
        self._by_control = {id(getattr(n, "control", None)): n for n in self.form.nodes()
                            if hasattr(n, "control")}
        yield Header()
        general = [c.box for c in self.form.children.values()
                   if not isinstance(c, (ModelNode, UnionNode))]
        sections = [Collapsible(*general, title="preset", collapsed=False, id="section-preset")]
        sections += [Collapsible(child.box, title=name, collapsed=False, id=f"section-{name}")
                     for name, child in self.form.children.items()
                     if isinstance(child, (ModelNode, UnionNode))]
        # Two columns side by side in a wide terminal (see on_resize), stacked otherwise.
        with VerticalScroll(id="form"):
            with Horizontal(id="columns"):
                yield Vertical(*sections[:3], classes="column")
                yield Vertical(*sections[3:], classes="column")
        with Vertical(id="editor-status"):
            yield Static("", id="field-help")
            yield Static("", id="advisories")
            with Horizontal(id="summary-row"):
                yield Static("", id="summary")
                yield Button("Start run ^r", id="start", variant="success", compact=True)
                yield Button("Save as… ^s", id="save", variant="primary", compact=True)
        yield Footer()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every key's action that applies now (the app adds them to the palette)."""
        return binding_commands(self)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    def on_mount(self) -> None:
        self.sub_title = f"editing {self.source_path or 'a new preset'}"
        for node in self.form.nodes():
            if isinstance(node, UnionNode):
                node.show_active()
        self.validate()
        self._clean = self.preset
        if self.load_error:
            self.query_one("#summary", Static).update(f"✗ {self.load_error}")
        name = self.node("name")
        if isinstance(name, ScalarNode):
            name.control.focus()

    # ------------------------------------------------------------------ validation

    def node(self, path: str) -> Node:
        """The form node that shows the field at ``path`` (``optimizer.learning_rate``)."""
        return locate(self.form, path)

    def validate(self) -> Preset | None:
        """Rebuild the preset from the form, validate it and show the result."""
        data = self.form.value()
        errors: dict[str, str] = {}
        for n in self.form.nodes():
            if (msg := n.local_error()) is not None:
                errors[n.path] = msg
        summary = ""
        self.preset = None
        if errors:
            path, msg = next(iter(errors.items()))
            summary = f"{path}: {msg}"
        else:
            try:
                self.preset = validate_preset(data, self.source)
            except PresetError as exc:
                summary = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
                errors = field_errors(data)
        self.errors = errors
        self._show(summary)
        return self.preset

    def _show(self, summary: str) -> None:
        shown: dict[int, str] = {}
        for path, msg in self.errors.items():
            node = locate(self.form, path)
            if node is self.form:
                continue
            extra = "" if path == node.path else f"{path.removeprefix(node.path + '.')}: "
            shown.setdefault(id(node), f"{extra}{msg}")
        for n in self.form.nodes():
            if n is not self.form:
                n.box.set_error(shown.get(id(n)))
        box = self.query_one("#summary", Static)
        valid = self.preset is not None
        if valid:
            box.update(f"✓ valid: {self.preset.name} can run")
        else:
            more = f"  ({len(self.errors)} errors)" if len(self.errors) > 1 else ""
            box.update(f"✗ {summary}{more}")
        box.set_class(valid, "-valid")
        box.set_class(not valid, "-invalid")
        notes = self.preset.advisories() if valid else []
        if self.load_error and self.source_path is not None:
            notes = [self.load_error, *notes]   # the file had more than the form shows
        adv = self.query_one("#advisories", Static)
        adv.update("\n".join(f"⚠ {n}" for n in notes))
        adv.display = bool(notes)
        self.query_one("#start", Button).disabled = not valid
        self.query_one("#save", Button).disabled = not valid
        self.refresh_bindings()

    def on_input_changed(self) -> None:
        self.validate()

    def on_switch_changed(self) -> None:
        self.validate()

    def on_text_area_changed(self) -> None:
        self.validate()

    def on_select_changed(self, event: Select.Changed) -> None:
        key = id(event.select)
        if key in self._tags:
            node = self._by_control[key]
            union = next(n for n in self.form.nodes()
                         if isinstance(n, UnionNode) and n.selector is node)
            union.switch_carrying(self._tags[key])
            self._tags[key] = event.value
        self.validate()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        node = self._by_control.get(id(event.widget))
        help_text = getattr(getattr(node, "control", None), "tooltip", None) or ""
        self.query_one("#field-help", Static).update(
            f"{node.path}: {help_text}" if node is not None else "")

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("start_run", "save_as"):
            return True if self.preset is not None else None
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        # Buttons are disabled while invalid; the actions check again anyway.
        if event.button.id == "start":
            self.action_start_run()
        elif event.button.id == "save":
            self.action_save_as()

    def action_start_run(self) -> None:
        preset = self.validate()
        if preset is None:
            return
        path = self.source_path if preset == self._clean else None
        self.post_message(HomeScreen.StartRun(preset, path))

    def action_save_as(self) -> None:
        preset = self.validate()
        if preset is None:
            return
        folder = self.presets_dir or Path.cwd() / "presets"
        suggestion = preset.name if self.source_path is None else f"{preset.name}_copy"

        def chosen(name: str | None) -> None:
            if not name:
                return
            target = folder / f"{name}.toml"
            if target.exists():
                self.app.push_screen(
                    ConfirmDialog("Overwrite?", f"{target} exists. Replace it with this preset?",
                                  yes="Overwrite (y)", no="Cancel (n)"),
                    lambda yes: self.save(name, target) if yes else None)
            else:
                self.save(name, target)

        self.app.push_screen(SaveAsScreen(suggestion, folder), chosen)

    def save(self, name: str, target: Path) -> Path | None:
        """Write the current preset, renamed to ``name``, to ``target``."""
        data = self.form.value()
        data["name"] = name
        try:
            preset = validate_preset(data, str(target))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(tomli_w.dumps(preset_to_toml_dict(preset)), encoding="utf-8")
        except (PresetError, OSError) as exc:
            self.notify(str(exc), title="Not saved", severity="error")
            return None
        name_node = self.node("name")
        if isinstance(name_node, ScalarNode):
            name_node.set_value(name)
        self.source_path = target
        self.sub_title = f"editing {target}"
        self.validate()
        self._clean = self.preset
        self.notify(f"saved {target}", title="Preset saved")
        return target

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss()
