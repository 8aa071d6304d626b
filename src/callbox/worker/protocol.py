"""How frames travel between the gateway and a worker: encoding, and reading them back.

What the frames are, field by field, and the order they come in is ``frames.py`` (the
contract); this module is the wire under it, kept language-neutral (src/callbox/node/protocol.js
is its JavaScript twin):

    frame = u32 header_length | u32 body_length | header (UTF-8 JSON object) | body (raw bytes)

Reading checks only what keeps the stream aligned and the header usable: the lengths, and a
header that is a JSON object with a string ``type``. Past that, a frame is taken to be what
``frames.py`` types it as: nothing is validated per frame on the hot path. A worker runs user
code, which can write to its socket: the gateway drops a worker whose frame breaks the
contract (``gateway/supervisor.py``) and converts what it passes on (``gateway/pool.py``).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from typing import Any, Protocol

from callbox.worker.frames import Frame

_PREFIX = struct.Struct(">II")
# A header carries the event (bounded by the 1 MB request limit); anything far larger is a bug.
MAX_HEADER_BYTES = 16 * 1024 * 1024

# What an exec-started worker finds open (frames.py, "Starting a worker").
SOCKET_FD = 3
SPEC_FD = 4


class ProtocolError(Exception):
    """A frame that does not follow the contract above."""


def dumps(header: Frame) -> bytes:
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def encode(header: Frame, body: bytes = b"", dumps: Callable[[Frame], bytes] = dumps) -> bytes:
    """One frame; ``dumps`` is the JSON encoder (the gateway brings a faster one than the
    standard library's, which a worker keeps to itself)."""
    raw = dumps(header)
    return _PREFIX.pack(len(raw), len(body)) + raw + body


async def read_frame(reader: asyncio.StreamReader, max_body: int) -> tuple[Frame, bytes]:
    """Read one frame; EOF between frames raises ``EOFError``, a bad frame ``ProtocolError``."""
    try:
        prefix = await reader.readexactly(_PREFIX.size)
    except asyncio.IncompleteReadError as exc:
        raise EOFError("the peer closed the connection") from exc
    header_len, body_len = _PREFIX.unpack(prefix)
    if header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {header_len} bytes is over the limit")
    try:
        if body_len > max_body:
            raw = await reader.readexactly(header_len)
            # Skip the body so the stream stays aligned; the caller still learns whose it was.
            await _skip(reader, body_len)
            body = b""
        else:
            # One read for header and body: this runs twice per invocation on the hot path.
            data = await reader.readexactly(header_len + body_len)
            raw, body = data[:header_len], data[header_len:]
    except asyncio.IncompleteReadError as exc:
        raise EOFError("the peer closed the connection mid-frame") from exc
    header = _parse_header(raw)
    if body_len > max_body:
        raise BodyTooLarge(header, body_len)
    return header, body


def _parse_header(raw: bytes, loads: Callable[[bytes], Any] = json.loads) -> Frame:
    try:
        header: Any = loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("frame header must be a JSON object with a string 'type'")
    # The rest as frames.py types it: trusted, not checked (and no cast() call per frame).
    return header  # type: ignore[return-value]


class FrameReader:
    """``read_frame`` for an ``asyncio.Protocol``: bytes in as they arrive, frames out through
    callbacks, with no task or stream in between (the gateway reads every result this way).

    ``loads`` decodes a header (JSON; the gateway brings a faster decoder).
    ``on_frame(header, body)`` gets each frame; ``on_oversize(header, size)`` a frame whose
    body was over ``max_body`` (skipped, as ``read_frame`` raises ``BodyTooLarge``), once the
    body has passed. ``feed`` raises ``ProtocolError`` for a bad frame; what came before it was
    delivered. ``pending`` says whether a frame is partly read (EOF now is mid-frame)."""

    def __init__(
        self,
        max_body: int,
        on_frame: Callable[[Frame, bytes], None],
        on_oversize: Callable[[Frame, int], None],
        loads: Callable[[bytes], Any] = json.loads,
    ) -> None:
        self.max_body = max_body
        self.loads = loads
        self.on_frame = on_frame
        self.on_oversize = on_oversize
        self._buffer = bytearray()
        self._need = 0  # bytes the buffer must hold before a frame can be read from it
        self._skip = 0  # bytes of an oversize body still to drop
        self._skipped: tuple[Frame, int] | None = None

    @property
    def pending(self) -> bool:
        return bool(self._buffer) or self._skipped is not None

    def feed(self, data: bytes) -> None:
        if self._skip:
            data = self._drop(data)
            if not data:
                return
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return  # a large frame arriving in pieces: no parsing until it is whole
            data = bytes(buffer)
            buffer.clear()
        end = len(data)
        pos = 0
        need = 8
        while end - pos >= 8:
            header_len, body_len = _PREFIX.unpack_from(data, pos)
            if header_len > MAX_HEADER_BYTES:
                raise ProtocolError(f"frame header of {header_len} bytes is over the limit")
            start = pos + 8
            if body_len > self.max_body:
                if end - start < header_len:
                    need = 8 + header_len
                    break
                header = _parse_header(data[start : start + header_len], self.loads)
                pos = start + header_len
                if end - pos < body_len:  # the rest of the body arrives later: drop it then
                    self._skip = body_len - (end - pos)
                    self._skipped = (header, body_len)
                    return
                pos += body_len
                self.on_oversize(header, body_len)
                continue
            total = 8 + header_len + body_len
            if end - pos < total:
                need = total
                break
            header = _parse_header(data[start : start + header_len], self.loads)
            body = data[start + header_len : pos + total]
            pos += total
            self.on_frame(header, body)
        if pos < end:
            buffer += data[pos:]
            self._need = need

    def _drop(self, data: bytes) -> bytes:
        if len(data) < self._skip:
            self._skip -= len(data)
            return b""
        rest = data[self._skip :]
        self._skip = 0
        skipped, self._skipped = self._skipped, None
        if skipped is not None:
            self.on_oversize(*skipped)
        return rest


class Writer(Protocol):
    """What an Outbox writes to: an ``asyncio.StreamWriter`` or a transport."""

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...


class Outbox:
    """Frames queued in one turn of the event loop leave in one write.

    Under load many invocations start or finish in the same turn; one write instead of one
    per frame saves system calls and wakes the peer once."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._parts: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def put(self, data: bytes) -> None:
        if not self._parts:
            # The loop, once: asking for the running loop costs a getpid() system call.
            loop = self._loop or asyncio.get_running_loop()
            self._loop = loop
            loop.call_soon(self._flush)
        self._parts.append(data)

    def _flush(self) -> None:
        parts, self._parts = self._parts, []
        if not self._writer.is_closing():
            self._writer.write(b"".join(parts) if len(parts) > 1 else parts[0])


class BodyTooLarge(ProtocolError):
    """A frame whose body is over the reader's limit; the header was read, the body skipped."""

    def __init__(self, header: Frame, size: int) -> None:
        super().__init__(f"frame body of {size} bytes is over the limit")
        self.header = header
        self.size = size


async def _skip(reader: asyncio.StreamReader, count: int) -> None:
    while count:
        chunk = await reader.read(min(count, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection mid-frame")
        count -= len(chunk)
