"""Static assets: read the file and describe it (content type, length, modification time)."""

from __future__ import annotations

import asyncio
import mimetypes
from email.utils import formatdate
from pathlib import Path

from callbox.errors import NotFound

_TEXT_TYPES = {"application/javascript", "application/json", "application/xml", "image/svg+xml"}
# Reading small files inline is faster than a thread hop; big ones go to a thread.
_INLINE_READ_LIMIT = 256 * 1024


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed


async def read_asset(file: Path, route_path: str) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body for an asset; NotFound if the file vanished since routes were read."""
    try:
        stat = file.stat()
        if stat.st_size <= _INLINE_READ_LIMIT:
            body = file.read_bytes()
        else:
            body = await asyncio.to_thread(file.read_bytes)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"The requested resource {route_path} was not found") from None
    headers = [
        ("Content-Type", content_type(route_path)),
        ("Last-Modified", formatdate(stat.st_mtime, usegmt=True)),
        ("Accept-Ranges", "none"),
    ]
    return headers, body
