"""`callbox init`: create a new project from the bundled scaffold."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

SCAFFOLD_DIR = Path(__file__).parent / "scaffold"
PLACEHOLDER = "{{name}}"
# Files whose text mentions the project name.
_TEMPLATED_FILES = ("README.md",)
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_IGNORED_NAMES = frozenset({"__pycache__"})


class InitError(ValueError):
    """The project cannot be created; the message says why and what to do."""


def validate_name(name: str) -> None:
    if not name:
        raise InitError("project name must not be empty")
    # fullmatch so a trailing newline or path separator cannot sneak through.
    if not _NAME_RE.fullmatch(name):
        raise InitError(
            f"invalid project name {name!r}: use only letters, digits, dashes and underscores"
        )


def _ignore(_directory: str, names: Iterable[str]) -> set[str]:
    # Bytecode caches appear in the scaffold once its functions have been imported (tests, dev).
    return {name for name in names if name in _IGNORED_NAMES or name.endswith(".pyc")}


def init_project(name: str, parent: Path) -> Path:
    """Copy the scaffold to ``parent / name`` and return the new project directory."""
    validate_name(name)
    destination = Path(parent) / name
    if destination.exists() and not destination.is_dir():
        raise InitError(
            f"{destination} already exists and is not a directory; choose another name or remove it"
        )
    if destination.is_dir() and any(destination.iterdir()):
        raise InitError(
            f"{destination} already exists and is not empty; choose another name or remove it"
        )
    # dirs_exist_ok lets an existing empty directory (e.g. one the user just made) be used.
    shutil.copytree(SCAFFOLD_DIR, destination, ignore=_ignore, dirs_exist_ok=True)
    for relative in _TEMPLATED_FILES:
        path = destination / relative
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(PLACEHOLDER, name), encoding="utf-8")
    return destination
