"""Static assets, served as a static file server serves files (RFC 9110): GET and HEAD,
``ETag`` and ``Last-Modified`` validators, ``304 Not Modified`` for ``If-None-Match`` /
``If-Modified-Since``, and one byte range (``Range``, ``If-Range``) as ``206`` or ``416``.

A request for several ranges gets the whole file (200), which RFC 9110 allows. The file is
opened once and read from that descriptor, so a file replaced meanwhile (an editor's save)
is served whole, old or new, never mixed.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from callbox.errors import NotFound

_TEXT_TYPES = {"application/javascript", "application/json", "application/xml", "image/svg+xml"}
# Reading small files inline is faster than a thread hop; big ones go to a thread.
_INLINE_READ_LIMIT = 256 * 1024


@dataclass
class Served:
    """What to answer: status, headers, body; ``length`` is the Content-Length of a HEAD
    answer, which carries no body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: int | None = None


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed


async def serve_asset(
    file: Path, route_path: str, method: str, request: list[tuple[bytes, bytes]]
) -> Served:
    """The answer to ``method`` (GET, HEAD or POST) for an asset; NotFound if the file vanished
    since routes were read."""
    try:
        size = file.stat().st_size
        if size <= _INLINE_READ_LIMIT:
            return _serve(file, route_path, method, request)
        return await asyncio.to_thread(_serve, file, route_path, method, request)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"The requested resource {route_path} was not found") from None


def _serve(file: Path, route_path: str, method: str, request: list[tuple[bytes, bytes]]) -> Served:
    with open(file, "rb") as f:
        stat = os.fstat(f.fileno())
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        modified = int(stat.st_mtime)
        validators = [("ETag", etag), ("Last-Modified", formatdate(modified, usegmt=True))]
        conditional = method in ("GET", "HEAD")
        if conditional and _not_modified(request, etag, modified):
            return Served(304, validators)
        headers = [("Content-Type", content_type(route_path)), *validators]
        headers.append(("Accept-Ranges", "bytes"))
        wanted = _header(request, b"range")
        if method == "GET" and wanted is not None and _if_range(request, etag, modified):
            try:
                span = _byte_range(wanted, size)
            except _Unsatisfiable:
                return Served(416, [("Content-Range", f"bytes */{size}"), *validators])
            if span is not None:
                start, end = span
                f.seek(start)
                body = f.read(end - start + 1)
                headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
                return Served(206, headers, body)
        if method == "HEAD":
            return Served(200, headers, length=size)
        return Served(200, headers, f.read())


def _not_modified(request: list[tuple[bytes, bytes]], etag: str, modified: int) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    none_match = _header(request, b"if-none-match")
    if none_match is not None:
        tags = {_weak(tag) for tag in none_match.split(",")}
        return "*" in tags or _weak(etag) in tags
    since = _date(_header(request, b"if-modified-since"))
    return since is not None and modified <= since


def _if_range(request: list[tuple[bytes, bytes]], etag: str, modified: int) -> bool:
    """Whether a Range applies: no If-Range, or one naming this very version of the file."""
    condition = _header(request, b"if-range")
    if condition is None:
        return True
    condition = condition.strip()
    if condition.startswith('"'):
        return condition == etag  # a strong comparison: W/ tags never match
    return _date(condition) == modified


class _Unsatisfiable(Exception):
    """The range starts past the end of the file: 416."""


def _byte_range(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range, or None to ignore it (another unit,
    several ranges, bad syntax); raises _Unsatisfiable for a range outside the file."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":  # the last N bytes
        if last == "":
            return None
        count = int(last)
        if count == 0 or size == 0:
            raise _Unsatisfiable
        return max(size - count, 0), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, size - 1 if last == "" else min(int(last), size - 1)


def _weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": UTC
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _header(raw: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
