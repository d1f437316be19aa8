"""A form generated from the preset's pydantic models, and the way back to a preset dict.

:func:`build_form` walks ``model_fields`` and returns the widgets together with a tree of
nodes that read them: ``Literal`` -> Select, ``bool`` -> Switch, numbers and strings ->
Input, discriminated unions (optimizer, schedule) -> a Select that shows one member's
fields, the layer list -> TOML text in a TextArea, and anything else -> a TOML value.
The form never validates on its own: the editor sends ``value()`` to ``validate_preset``.
The leaves (one field's widgets, scalar and layer-list nodes) are in
:mod:`tuitrain.ui.screens.editor_fields`; the sections and unions are here.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Switch

from tuitrain.ui.screens.editor_fields import (INDENT, LABEL_WIDTH, MISSING, LayersNode, Node,
                                               ScalarNode, is_model, strip_annotated,
                                               unwrap_optional)


class FormGroup(Vertical):
    """A nested section; optional sections carry a Switch that shows or hides the body."""

    def __init__(self, path: str, title: str, body: list[Widget], toggle: Switch | None):
        super().__init__(classes="form-group")
        self.path, self.heading, self.toggle = path, title, toggle
        self.error = Label("", classes="error")
        self.error.display = False
        self.body = Vertical(*body, classes="group-body")
        self.depth = 0

    def compose(self):
        if self.heading or self.toggle is not None:
            self.body.styles.padding = (0, 0, 0, INDENT)
            with Horizontal(classes="group-title"):
                label = Label(self.heading, classes="group-label")
                label.styles.width = LABEL_WIDTH - INDENT * self.depth
                yield label
                if self.toggle is not None:
                    yield self.toggle
        self.error.styles.padding = (0, 0, 0, LABEL_WIDTH - INDENT * self.depth)
        yield self.error
        yield self.body

    def on_mount(self) -> None:
        if self.toggle is not None:
            self.body.display = self.toggle.value

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch is self.toggle:
            self.body.display = event.value

    def set_error(self, message: str | None) -> None:
        self.error.update(f"✗ {message}" if message else "")
        self.error.display = bool(message)


class ModelNode(Node):
    def __init__(self, path: str, cls: type[BaseModel], data: Any, optional: bool = False,
                 skip: str | None = None, title: str | None = None):
        self.path, self.cls, self.skip = path, cls, skip
        data = data if isinstance(data, dict) else {}
        self.children: dict[str, Node] = {}
        for name, info in cls.model_fields.items():
            if name == skip:
                continue
            current = data.get(name, MISSING)
            if current is MISSING and not info.is_required():
                current = info.get_default(call_default_factory=True)
                if isinstance(current, BaseModel):
                    current = current.model_dump(mode="json")
            sub = f"{path}.{name}" if path else name
            self.children[name] = build_node(sub, info.annotation, info.discriminator,
                                             current, info.description or "")
        self.toggle = Switch(value=bool(data)) if optional else None
        body = [c.box for c in self.children.values()]
        if title is None:
            # Top-level sections are titled by their Collapsible.
            title = path.rsplit(".", 1)[-1] if "." in path else ""
        self.box = FormGroup(path, title, body, self.toggle)

    def value(self) -> Any:
        if self.toggle is not None and not self.toggle.value:
            return MISSING
        out = {}
        for name, child in self.children.items():
            v = child.value()
            if v is not MISSING:
                out[name] = v
        return out

    def nodes(self):
        yield self
        for child in self.children.values():
            yield from child.nodes()

    def find(self, parts: list[str]) -> Node:
        if parts and parts[0] in self.children:
            child = self.children[parts[0]]
            return child.find(parts[1:]) if hasattr(child, "find") else child
        return self


class UnionNode(Node):
    """A discriminated union: a Select of the tag, and the chosen member's fields."""

    def __init__(self, path: str, ann: Any, disc: str, data: Any, help_text: str):
        self.path, self.disc = path, disc
        data = data if isinstance(data, dict) else {}
        self.members: dict[str, ModelNode] = {}
        self.tag_to_member: dict[str, str] = {}
        for cls in get_args(strip_annotated(ann)):
            key = cls.__name__.lower()
            for tag in get_args(cls.model_fields[disc].annotation):
                self.tag_to_member[tag] = key
            own = {k: v for k, v in data.items() if k in cls.model_fields}
            self.members[key] = ModelNode(f"{path}.{key}", cls, own, skip=disc, title="")
        current = data.get(disc, MISSING)
        self.selector = ScalarNode(f"{path}.{disc}", Literal[tuple(self.tag_to_member)],
                                   False, current, help_text)
        self.box = FormGroup(path, "", [self.selector.box]
                             + [m.box for m in self.members.values()], None)
        self.box.add_class("union")
        # Member paths carry the class key for unique widget ids, but pydantic reports
        # "optimizer.learning_rate": children are re-pathed to what the user sees.
        for member in self.members.values():
            prefix = member.path
            for node in member.nodes():
                node.path = path + node.path.removeprefix(prefix)

    def active(self) -> ModelNode | None:
        tag = self.selector.value()
        return self.members.get(self.tag_to_member.get(tag, ""))

    def show_active(self) -> None:
        chosen = self.active()
        for member in self.members.values():
            member.box.display = member is chosen

    def switch_carrying(self, previous: str | None) -> None:
        """Show the chosen member, carrying over values of fields both members have."""
        old = self.members.get(self.tag_to_member.get(previous or "", ""))
        new = self.active()
        if old is not None and new is not None and old is not new:
            for name, child in old.children.items():
                target = new.children.get(name)
                if isinstance(child, ScalarNode) and isinstance(target, ScalarNode) \
                        and child.kind == target.kind:
                    v = child.value()
                    if v is not MISSING:
                        target.set_value(v)
        self.show_active()

    def value(self) -> Any:
        chosen = self.active()
        out = chosen.value() if chosen is not None else {}
        tag = self.selector.value()
        if tag is not MISSING:
            out = {self.disc: tag, **out}
        return out

    def nodes(self):
        yield self
        yield self.selector
        for member in self.members.values():
            yield from member.nodes()

    def find(self, parts: list[str]) -> Node:
        if parts and parts[0] == self.disc:
            return self.selector
        chosen = self.active()
        return chosen.find(parts) if chosen is not None else self


def build_node(path: str, ann: Any, disc: str | None, current: Any, help_text: str) -> Node:
    """The node (and widgets) for one field of a preset model."""
    inner, optional = unwrap_optional(ann)
    if disc:
        return UnionNode(path, inner, disc, current, help_text)
    if is_model(inner):
        return ModelNode(path, inner, current, optional=optional)
    if get_origin(inner) is list and _is_model_union(get_args(inner)[0]):
        return LayersNode(path, current, help_text)
    return ScalarNode(path, inner, optional, current, help_text)


def _is_model_union(ann: Any) -> bool:
    ann = strip_annotated(ann)
    return any(is_model(strip_annotated(a)) for a in get_args(ann)) or is_model(ann)


def build_form(cls: type[BaseModel], data: dict) -> ModelNode:
    """The whole form for ``cls`` (the Preset), filled from ``data``."""
    root = ModelNode("", cls, data)
    _set_depth(root, 0)
    return root


def _set_depth(node: Node, depth: int) -> None:
    node.box.depth = depth
    if isinstance(node, ModelNode):
        inner = depth + 1 if node.box.heading else depth
        for child in node.children.values():
            _set_depth(child, inner)
    elif isinstance(node, UnionNode):
        _set_depth(node.selector, depth)
        for member in node.members.values():
            _set_depth(member, depth)


def locate(root: ModelNode, path: str) -> Node:
    """The deepest node for an error path such as ``model.layers[2].units``."""
    parts = path.replace("[", ".[").split(".")
    parts = [p for p in parts if p and not p.startswith("[")] if path else []
    return root.find(parts)
