"""User keymaps: binding ids mapped to keys, read from a TOML file.

Every binding has an id (``run.pause``, ``home.start`` ...; the help screen lists them).
A keymap file is a table of ``id = "keys"``, for example::

    [keys]
    "run.pause" = "space"
    "run.stop" = "ctrl+x"

It is read from ``$TUITRAIN_KEYMAP`` or ``~/.config/tuitrain/keymap.toml`` and handed to
Textual's ``App.set_keymap``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path


class KeymapError(ValueError):
    """A keymap file that cannot be used; one line naming the file and the reason."""


def keymap_path() -> Path:
    env = os.environ.get("TUITRAIN_KEYMAP")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tuitrain" / "keymap.toml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The keymap in ``path`` (default: :func:`keymap_path`); {} when there is none."""
    path = path or keymap_path()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KeymapError(f"{path}: {exc}") from None
    keys = data.get("keys", {})
    unknown = set(data) - {"keys"}
    if unknown or not isinstance(keys, dict):
        raise KeymapError(f"{path}: expected one [keys] table of binding id = \"keys\"")
    bad = [k for k, v in keys.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise KeymapError(f"{path}: keys.{bad[0]}: expected a string such as \"ctrl+x\"")
    return dict(keys)
