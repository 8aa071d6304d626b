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


def init_project(
    name: str,
    parent: Path,
    *,
    account_sid: str | None = None,
    auth_token: str | None = None,
    empty: bool = False,
) -> Path:
    """Copy the scaffold to ``parent / name`` and return the new project directory.

    ``account_sid`` / ``auth_token`` go into its .env (as Twilio's ``init`` writes them);
    ``empty`` leaves the functions and assets folders without examples."""
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
    if account_sid or auth_token:
        _write_credentials(destination / ".env", account_sid or "", auth_token or "")
    if empty:
        for folder in ("functions", "assets"):
            shutil.rmtree(destination / folder)
            (destination / folder).mkdir()
    return destination


def _write_credentials(env_file: Path, account_sid: str, auth_token: str) -> None:
    """Fill the scaffold's commented ACCOUNT_SID= / AUTH_TOKEN= lines."""
    values = {"ACCOUNT_SID": account_sid, "AUTH_TOKEN": auth_token}
    lines = []
    for line in env_file.read_text(encoding="utf-8").splitlines():
        key = line.lstrip("# ").split("=", 1)[0]
        lines.append(f"{key}={values.pop(key)}" if key in values and "=" in line else line)
    lines.extend(f"{key}={value}" for key, value in values.items())
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
