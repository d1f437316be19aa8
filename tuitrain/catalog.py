"""Preset discovery: where presets live, listing them, and turning a name into a file.

Shipped presets are the chapter-11 runs. In an installed wheel they are package data at
``tuitrain/_presets`` (pyproject force-includes the repo's ``presets/`` there); in a checkout
or an editable install they are the repo's ``presets/`` next to the package. A user's own
presets add to them: the current folder's ``./presets/`` (unless that *is* the shipped
folder, as when working in the repo) and any folders or files given explicitly. When two
presets share a name, the user's wins, explicit paths first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from tuitrain.preset import PresetError, read_toml, validate_preset

Origin = Literal["shipped", "user"]


@dataclass(frozen=True)
class PresetEntry:
    """One preset file found on disk; ``error`` is set (one line) when it does not validate."""

    name: str
    path: Path
    origin: Origin
    description: str = ""
    chapter: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file is a valid preset."""
        return self.error is None


def shipped_presets_dir() -> Path:
    """The folder of the presets that come with tuitrain (package data first, then the repo)."""
    package = Path(__file__).resolve().parent
    bundled = package / "_presets"
    if bundled.is_dir():
        return bundled
    return package.parent / "presets"


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def user_preset_sources(extra_dirs: Iterable[str | Path] = ()) -> list[Path]:
    """Folders and files holding the user's presets, highest precedence first."""
    sources = [Path(p).expanduser() for p in extra_dirs]
    local = Path.cwd() / "presets"
    if local.is_dir() and not _same_dir(local, shipped_presets_dir()):
        sources.append(local)
    return sources


def _toml_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.glob("*.toml") if p.is_file())
    return [source] if source.is_file() else []


def read_entry(path: Path, origin: Origin) -> PresetEntry:
    """Describe one preset file without raising: an invalid file gets its error instead."""
    try:
        preset = validate_preset(read_toml(path), str(path))
    except PresetError as exc:
        return PresetEntry(name=path.stem, path=path, origin=origin, error=str(exc))
    return PresetEntry(name=preset.name, path=path, origin=origin,
                       description=preset.description, chapter=preset.chapter)


def list_presets(extra_dirs: Iterable[str | Path] = ()) -> list[PresetEntry]:
    """Every preset found: the shipped ones (by name), then the user's, in precedence order."""
    shipped = [read_entry(p, "shipped") for p in _toml_files(shipped_presets_dir())]
    shipped.sort(key=lambda e: e.name)
    user: list[PresetEntry] = []
    seen: set[Path] = set()
    for source in user_preset_sources(extra_dirs):
        for path in _toml_files(source):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                user.append(read_entry(path, "user"))
    return shipped + user


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def _precedence(entries: list[PresetEntry]) -> list[PresetEntry]:
    # Users' presets shadow shipped ones of the same name.
    return [e for e in entries if e.origin == "user"] + [e for e in entries if e.origin == "shipped"]


def _by_name(name: str, entries: list[PresetEntry]) -> Path | None:
    for entry in _precedence(entries):
        if entry.name == name or entry.path.stem == name:
            return entry.path
    return None


def resolve_preset(name_or_path: str | Path, extra_dirs: Iterable[str | Path] = ()) -> Path:
    """The file of a preset given as a path to a ``.toml`` or as a preset name.

    A name is looked up among the user's presets first, then the shipped ones; a file's
    stem counts as its name too, so a preset whose own ``name`` is broken can still be named.
    Raises :class:`PresetError` for a missing file or an unknown name.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or _looks_like_path(text):
        path = Path(text).expanduser()
        if path.exists():
            return path
        # "quickstart.toml" typed from anywhere still means the shipped quickstart.
        if path.parent == Path(".") and path.suffix == ".toml":
            found = _by_name(path.stem, list_presets(extra_dirs))
            if found is not None:
                return found
        raise PresetError(text, None, "no such file")
    entries = list_presets(extra_dirs)
    found = _by_name(text, entries)
    if found is not None:
        return found
    ordered = _precedence(entries)
    # A chapter id (R13, r27mc) names its preset when only one reproduces that run.
    by_chapter = [e for e in ordered if e.chapter and e.chapter.lower() == text.lower()]
    if len({e.name for e in by_chapter}) == 1:
        return by_chapter[0].path
    if by_chapter:
        choices = ", ".join(sorted({e.name for e in by_chapter}))
        raise PresetError(text, None, f"several presets reproduce {text}: {choices}")
    if Path(text).is_file():
        return Path(text)
    names = sorted({e.name for e in entries})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise PresetError(text, None,
                      f"unknown preset; {hint}`tuitrain presets list` shows them all")
