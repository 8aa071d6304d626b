"""Install a requirements set with uv into a target folder, skipped when nothing changed."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from callbox.config import Config

_STAMP = ".requirements-sha256"


class DependencyError(Exception):
    """uv could not install the requirements; the message carries uv's own explanation."""


_COMMENT = re.compile(r"(^|\s)#.*$")


def requirement_lines(text: str) -> list[str]:
    # As pip reads them: "#" starts a comment at a line's start or after whitespace only, so
    # URL fragments such as "pkg @ https://host/pkg.whl#sha256=..." survive.
    lines = (_COMMENT.sub("", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def requirements_hash(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def install(text: str, target: Path, config: Config) -> bool:
    """Install the requirements in ``text`` into ``target``; False if it was already done."""
    lines = requirement_lines(text)
    digest = requirements_hash(lines)
    stamp = target / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return False
    if not lines:
        return False
    from uv import find_uv_bin

    target.mkdir(parents=True, exist_ok=True)
    command = [
        find_uv_bin(),
        "pip",
        "install",
        "--quiet",
        "--python",
        sys.executable,
        "--target",
        str(target),
        *config.index_args(),
        *lines,
    ]
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise DependencyError(f"Installing {', '.join(lines)} failed:\n{detail}")
    stamp.write_text(digest + "\n")
    return True
