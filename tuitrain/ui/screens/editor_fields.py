"""The preset editor's leaves: one field's widgets, and the nodes that read it back.

:class:`FormField` is a labelled control with an error line under it. :class:`ScalarNode`
turns a scalar annotation into a Select (``Literal``), a Switch (``bool``) or an Input
(numbers, strings, lists, TOML values) and reads it back; :class:`LayersNode` edits the
layer list as ``[[layers]]`` TOML. ``MISSING`` marks a field left empty (pydantic then
applies its default). :mod:`tuitrain.ui.screens.editor_form` builds the tree above them.
"""

from __future__ import annotations

import json
import tomllib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea

LABEL_WIDTH, INDENT = 24, 2
MISSING: Any = object()
"""A field left empty: omitted from the dict, so pydantic applies its default."""


def strip_annotated(ann: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X``."""
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    return ann


def unwrap_optional(ann: Any) -> tuple[Any, bool]:
    """(the annotation without ``None``, whether ``None`` was allowed)."""
    ann = strip_annotated(ann)
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) < len(get_args(ann)):
            return (strip_annotated(args[0]) if len(args) == 1 else Union[tuple(args)]), True
    return ann, False


def is_model(ann: Any) -> bool:
    """Whether ``ann`` is a pydantic model class (a section of the form)."""
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def toml_value(value: Any) -> str:
    """One value as inline TOML (``{ kind = "l2", l2 = 0.01 }``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def layers_to_toml(layers: list[dict]) -> str:
    """The layer list as ``[[layers]]`` tables with inline sub-tables, one key a line."""
    blocks = []
    for layer in layers:
        lines = ["[[layers]]"] + [f"{k} = {toml_value(v)}" for k, v in layer.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text) if kind is int else float(text)
    except ValueError:
        return text  # pydantic names the problem ("should be a valid number")


class FormField(Vertical):
    """One labelled control with the error line under it."""

    def __init__(self, path: str, control: Widget, help_text: str) -> None:
        super().__init__(classes="form-field")
        self.path, self.control, self.help_text = path, control, help_text
        self.error = Label("", classes="error")
        self.error.display = False
        self.depth = 0

    def compose(self):
        with Horizontal(classes="field-row"):
            label = Label(self.path.rsplit(".", 1)[-1], classes="field-label")
            # Nested labels are narrower so every control starts in the same column.
            label.styles.width = LABEL_WIDTH - INDENT * self.depth
            yield label
            yield self.control
        self.error.styles.padding = (0, 0, 0, LABEL_WIDTH - INDENT * self.depth)
        yield self.error

    def set_error(self, message: str | None) -> None:
        self.error.update(f"✗ {message}" if message else "")
        self.error.display = bool(message)


class Node:
    """Reads one part of the form back into preset data."""

    path: str
    box: Widget   # a FormField; sections (editor_form) have a FormGroup

    def value(self) -> Any:
        raise NotImplementedError

    def local_error(self) -> str | None:
        """An error found before pydantic sees the value (a TOML syntax error)."""
        return None

    def nodes(self):
        yield self


class ScalarNode(Node):
    def __init__(self, path: str, ann: Any, optional: bool, current: Any, help_text: str):
        self.path, self.ann, self.optional = path, ann, optional
        self.kind = "text"
        if get_origin(ann) is Literal:
            self.kind = "select"
            opts = [(str(v), v) for v in get_args(ann)]
            value = current if current in get_args(ann) else Select.NULL
            control: Widget = Select(opts, value=value, allow_blank=value is Select.NULL,
                                     compact=True)
        elif ann is bool:
            self.kind = "switch"
            control = Switch(value=bool(current) if current is not MISSING else False)
        elif get_origin(ann) in (list, tuple) and get_args(ann):
            self.kind, self.item = "list", strip_annotated(get_args(ann)[0])
            text = ", ".join(str(v) for v in current) if isinstance(current, (list, tuple)) else ""
            control = Input(text, compact=True, placeholder="comma-separated")
        elif ann in (int, float, str):
            self.kind = {int: "int", float: "float", str: "str"}[ann]
            text = "" if current in (MISSING, None) else str(current)
            control = Input(text, compact=True, placeholder="(default)" if optional else "")
        else:
            # Name-or-table unions (initializers): bare words are names, tables are TOML.
            text = "" if current in (MISSING, None) else (
                current if isinstance(current, str) else toml_value(current))
            control = Input(text, compact=True, placeholder='a name, or { name = "..." }')
        control.tooltip = help_text
        self.control = control
        self.box = FormField(path, control, help_text)

    def value(self) -> Any:
        c = self.control
        if self.kind == "select":
            return MISSING if c.value is Select.NULL else c.value
        if self.kind == "switch":
            return c.value
        text = c.value.strip()
        if not text:
            return MISSING if self.optional or self.kind != "str" else ""
        if self.kind == "str":
            return text
        if self.kind in ("int", "float"):
            return _number(text, int if self.kind == "int" else float)
        if self.kind == "list":
            kind = int if self.item is int else float
            return [_number(p.strip(), kind) for p in text.strip("[]()").split(",") if p.strip()]
        try:
            return tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            return text

    def set_value(self, value: Any) -> None:
        if self.kind in ("select", "switch"):
            self.control.value = value
        else:
            self.control.value = str(value)


class LayersNode(Node):
    """A list of layer tables, edited as TOML and validated with the whole preset."""

    def __init__(self, path: str, current: Any, help_text: str):
        self.path = path
        self.control = TextArea(layers_to_toml(current) if current not in (MISSING, None) else "",
                                language=None, soft_wrap=False, tab_behavior="indent",
                                classes="layers")
        self.control.tooltip = help_text
        self.box = FormField(path, self.control, help_text)

    def _parse(self) -> tuple[Any, str | None]:
        try:
            return tomllib.loads(self.control.text).get("layers", []), None
        except tomllib.TOMLDecodeError as exc:
            return MISSING, f"TOML syntax error: {exc}"

    def value(self) -> Any:
        return self._parse()[0]

    def local_error(self) -> str | None:
        return self._parse()[1]
