"""Files the toolkit writes next to the user's work (.twiliodeployinfo, profiles.json,
assets.json): always whole — written to a temporary file beside them, then renamed into place,
so an interrupted command never leaves half a file that later ones refuse."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_whole(path: Path, text: str, *, private: bool = False) -> None:
    """Replace ``path`` with ``text``; ``private``: readable only by its owner (0600)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL: never write through a link someone planted at the temporary name.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
