"""Loading presets: TOML reading, ``--set`` overrides, validation with one-line errors.

Every failure is a :class:`PresetError` that names the file, the field path and the
reason, ready to print on one line.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tuitrain.preset.run import Preset

# --------------------------------------------------------------------------- loading


class PresetError(Exception):
    """A preset that cannot be used: ``str()`` is one line naming file, field and reason."""

    def __init__(self, source: str, field: str | None, reason: str):
        self.source, self.field, self.reason = source, field, reason
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {reason}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a TOML-parsed value (bare words: strings)."""
    if "=" not in text:
        raise PresetError("--set", text, "expected KEY=VALUE, e.g. optimizer.learning_rate=0.01")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise PresetError("--set", key, "empty part in the key path")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """A deep copy of ``data`` with each ``key.path=value`` override set in it."""
    data = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                try:
                    node = node[int(part)]
                    continue
                except (ValueError, IndexError):
                    raise PresetError("--set", ".".join(path[: i + 1]), "no such list index")
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, (dict, list)):
                raise PresetError("--set", ".".join(path[: i + 1]), "is a value, not a section")
            node = nxt
        last = path[-1]
        if isinstance(node, list):
            try:
                node[int(last)] = value
            except (ValueError, IndexError):
                raise PresetError("--set", ".".join(path), "no such list index")
        else:
            node[last] = value
    return data


_TAGGED_PARENTS = {"optimizer", "schedule"}


def _loc(loc: tuple) -> str:
    """A pydantic error location as the user wrote it: ``model.layers[2].units``.

    Pydantic adds the union member it tried (``dense``, ``sgd``, ``LeakyReLU``,
    ``literal[...]``) to the location; the user never wrote those, so they are dropped.
    """
    parts: list[str] = []
    prev: Any = None
    for p in loc:
        tag = (
            isinstance(p, str)
            and (
                isinstance(prev, int)
                or prev in _TAGGED_PARENTS
                or p[:1].isupper()
                or p.startswith(("literal[", "function-", "tagged-union["))
            )
        )
        if not tag:
            parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
        prev = p
    return "".join(parts)


def _is_union_noise(err: dict) -> bool:
    # In "name or table" unions, the branch that did not match the input's kind only
    # repeats what the user did not mean ("should be a valid dict" for a string).
    kind = err["type"]
    if kind in ("model_type", "model_attributes_type", "dict_type", "is_instance_of"):
        return True
    return kind == "literal_error" and isinstance(err.get("input"), dict)


def _useful(errors: list[dict]) -> list[dict]:
    """Pydantic's errors less the union noise (all of them if that is all there is)."""
    return [e for e in errors if not _is_union_noise(e)] or errors


def validate_preset(data: dict, source: str = "<preset>") -> Preset:
    """Validate a parsed preset; raise :class:`PresetError` naming the first bad field."""
    try:
        return Preset.model_validate(data)
    except ValidationError as exc:
        useful = _useful(exc.errors(include_url=False))
        # A misspelt key also makes the real one "missing": the unknown key explains both.
        useful.sort(key=lambda e: e["type"] != "extra_forbidden")
        field, msg = _describe(useful[0])
        if len(useful) > 1:
            msg += f" (and {len(useful) - 1} more)"
        raise PresetError(source, field or None, msg) from None


def field_errors(data: dict) -> dict[str, str]:
    """Every problem of a parsed preset, by field path (``train.epochs``) as the user wrote
    it; ``{}`` when it validates. The editor shows them beside the fields."""
    try:
        Preset.model_validate(data)
    except ValidationError as exc:
        useful = _useful(exc.errors(include_url=False))
    else:
        return {}
    out: dict[str, str] = {}
    for err in useful:
        path = _loc(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not path and ":" in msg:
            # Cross-field checks name their field first ("model.output: ...").
            path, msg = (s.strip() for s in msg.split(":", 1))
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] != "missing" and not isinstance(err.get("input"), (dict, list)):
            msg = f"{msg} (got {err['input']!r})"
        out.setdefault(path, msg)
    return out


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$")


def _describe(err: dict) -> tuple[str, str]:
    """The field path and the reason of one pydantic error, in the user's words."""
    field = _loc(err["loc"])
    kind, given, msg = err["type"], err.get("input"), err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return field, "unknown key"
    if kind == "value_error":
        # Cross-field checks say which field they blame as "sub.field: reason".
        m = _FIELD_PREFIX.match(msg)
        if m:
            field, msg = ".".join(p for p in (field, m.group(1)) if p), m.group(2)
        return field, msg
    if kind == "union_tag_invalid":
        key = err["ctx"]["discriminator"].strip("'")
        return f"{field}.{key}", (f"unknown {key} {err['ctx']['tag']!r} "
                                  f"(expected one of {err['ctx']['expected_tags']})")
    if kind == "union_tag_not_found":
        key = err["ctx"]["discriminator"].strip("'")
        return f"{field}.{key}", f"missing: every {field.rsplit('.', 1)[-1]} needs a {key}"
    if kind == "layer_type":
        got = given.get("type") if isinstance(given, dict) else given
        return f"{field}.type", f"{msg} (got {got!r})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return field, f"should be a table, not a value (got {given!r})"
    if kind != "missing" and not isinstance(given, (dict, list)):
        msg = f"{msg} (got {given!r})"
    return field, msg


def read_toml(path: Path) -> dict:
    """Parse a TOML file, turning I/O and syntax errors into :class:`PresetError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError(str(path), None, "no such file") from None
    except IsADirectoryError:
        raise PresetError(str(path), None, "is a directory, not a preset file") from None
    except UnicodeDecodeError as exc:
        raise PresetError(str(path), None, f"cannot read: not UTF-8 text "
                          f"(byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except OSError as exc:
        raise PresetError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(str(path), None, f"TOML syntax error: {exc}") from None


def load_preset(path: str | Path, overrides: list[str] | None = None) -> Preset:
    """Load, override and validate one preset file."""
    path = Path(path)
    data = read_toml(path)
    if not overrides:
        return validate_preset(data, str(path))
    data = apply_overrides(data, overrides)
    try:
        return validate_preset(data, str(path))
    except PresetError as exc:
        # Point at the command line when the offending value came from it.
        keys = {_field_path(parse_override(o)[0]) for o in overrides}
        if exc.field and any(exc.field == k or exc.field.startswith(k + ".") for k in keys):
            raise PresetError(exc.source, exc.field, f"{exc.reason} (from --set)") from None
        raise


def _field_path(parts: list[str]) -> str:
    """``["model", "layers", "0", "units"]`` as errors write it: ``model.layers[0].units``."""
    return "".join(f"[{p}]" if p.isdigit() else ("." if i else "") + p
                   for i, p in enumerate(parts))


def preset_to_toml_dict(preset: Preset) -> dict:
    """The preset as plain data (defaults included, None dropped), for saving as TOML/JSON."""
    return _drop_none(preset.model_dump(mode="json"))


def _drop_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def json_schema() -> dict:
    """JSON schema of a preset file, for editors (committed as presets/preset.schema.json)."""
    return Preset.model_json_schema(mode="validation")
