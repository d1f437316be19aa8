"""Text the command line prints: the preset table, a preset as TOML, the JSON schema."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import tomli_w

from tuitrain.catalog import PresetEntry
from tuitrain.preset import Preset, json_schema, preset_to_toml_dict

# tomli_w writes every array one item per line; short arrays of numbers read better inline.
_MULTILINE_SCALARS = re.compile(r"\[\n((?:[ ]+[^\n\[\]{}]+,\n)+)\]")


def _inline_short_arrays(text: str) -> str:
    def join(match: re.Match) -> str:
        items = [line.strip().rstrip(",") for line in match.group(1).splitlines()]
        inline = "[" + ", ".join(items) + "]"
        return inline if len(inline) <= 60 else match.group(0)

    return _MULTILINE_SCALARS.sub(join, text)


def _key_first(section: Any, key: str) -> Any:
    if isinstance(section, dict) and key in section:
        return {key: section[key], **{k: v for k, v in section.items() if k != key}}
    return section


def preset_toml(preset: Preset, source: Path | str | None = None) -> str:
    """The preset as a complete TOML file, defaults filled in; it loads back to the same preset."""
    data = preset_to_toml_dict(preset)
    # The discriminating key first, as a person would write the section.
    data["optimizer"] = _key_first(data.get("optimizer"), "name")
    data["schedule"] = _key_first(data.get("schedule"), "kind")
    header = f"# preset {preset.name}" + (f", from {source}" if source else "") + "\n"
    header += "# every field shown, defaults included\n"
    return header + _inline_short_arrays(tomli_w.dumps(data))


def schema_text() -> str:
    """The JSON schema of a preset file, as committed in presets/preset.schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def preset_table(entries: list[PresetEntry], shipped_dir: Path) -> str:
    """One line per preset: name, chapter run, origin, description (cut to the terminal)."""
    if not entries:
        return f"no presets found (shipped presets are looked for in {shipped_dir})\n"
    # Cut long lines only on a terminal: piped output stays whole for grep.
    width = shutil.get_terminal_size((0, 0)).columns if sys.stdout.isatty() else 0
    name_w = max(len("NAME"), *(len(e.name) for e in entries))
    chap_w = max(len("RUN"), *(len(e.chapter or "-") for e in entries))
    lines = [f"{'NAME':<{name_w}}  {'RUN':<{chap_w}}  {'ORIGIN':<7}  DESCRIPTION"]
    for e in entries:
        if e.ok:
            text = e.description or "(no description)"
        else:
            text = f"INVALID: {e.error}"
        if e.origin == "user":
            text += f"  [{_display_path(e.path)}]"
        line = f"{e.name:<{name_w}}  {(e.chapter or '-'):<{chap_w}}  {e.origin:<7}  {text}"
        if len(line) > width > 40:
            line = line[: width - 3] + "..."
        lines.append(line)
    lines.append("")
    lines.append(f"shipped presets: {shipped_dir}")
    lines.append("your own: ./presets/*.toml or --dir DIR; run one with `tuitrain run NAME`")
    return "\n".join(lines) + "\n"
