"""The frames between the gateway and a worker process.

This module is the whole contract, kept language-neutral so that a Node.js worker can speak it
later. Workers connect to the gateway's Unix socket; after that, both sides exchange frames:

    frame   = u32 header_length | u32 body_length | header (UTF-8 JSON object) | body (raw bytes)
    lengths are big-endian; the header always has a "type" field.

worker -> gateway
    hello      {worker_id, pid, runtime}                         first frame, once
    result     {id, status, headers: [[name, value]], logs: [LOG], mode, retire}  body: HTTP body
    cancelled  {id, logs: [LOG], thread_running}                 answer to cancel (always sent)
    log        {id, level, message, time}                        a line written after the result
    retire     {id}                                   a handler thread outlived the execution limit
gateway -> worker
    invoke     {id, path, context: {...}, event: {...}, timeout}  run one invocation
    cancel     {id}                                              the deadline passed: stop it

LOG     = {level: "INFO" | "WARN" | "ERROR", message, time (epoch seconds)}
mode    = "sync" | "async": how the handler ran (a thread, or a task on the worker's loop)
retire  = true when the worker should not get more work (e.g. it ran out of memory)
thread_running = true when the cancelled handler is sync code still running on a thread

Starting a worker. Python workers are forked from the warm parent ("zygote"), which reads
one JSON object per line on stdin, {"op": "spawn", "worker_id", "socket", "spec": WORKER_SPEC},
or {"op": "kill", "worker_id"}, and reports {"op": "exited", "worker_id", "pid", "status"} on
stdout when a worker ends. Every other worker (Node.js, or Python started by exec) gets from its
launcher exactly what a forked one inherits: fd 3 (SOCKET_FD) is a Unix stream socket already
connected to the gateway, fd 4 (SPEC_FD) a pipe holding WORKER_SPEC as one JSON object (read it
to EOF), the working directory is the build's root, and the sandbox is already applied. Its
first frame is ``hello`` with the spec's ``worker_id``. Commands: ``python -m callbox.worker``;
``node src/callbox/node/worker.js`` (see src/callbox/node/README.md).

WORKER_SPEC = {worker_id, runtime, root, functions: {path: {file, visibility}},
               assets: {path: {file, visibility}}, site_packages: [dir], memory_limit_mb,
               debug_errors, local, threads, slot, executable, inspect?: {host, port, wait}}
    runtime: "python" | "node" (the build's language); executable: the node binary, set by the
    gateway's supervisor for Node.js workers (the server's `node`)
    site_packages: folders holding the build's dependencies (Python: put on sys.path; Node.js:
    folders that contain packages, searched by require() after the function's own folders)
    inspect: local development with a debugger: listen for one at host:port (Python: debugpy's
    Debug Adapter Protocol; Node.js: the inspector); with wait, once hello is sent, serve
    nothing until one is attached
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from typing import Any

_PREFIX = struct.Struct(">II")
# A header carries the event (bounded by the 1 MB request limit); anything far larger is a bug.
MAX_HEADER_BYTES = 16 * 1024 * 1024

RUNTIME_PYTHON = "python"
RUNTIME_NODE = "node"

# What an exec-started worker finds open (see "Starting a worker" above).
SOCKET_FD = 3
SPEC_FD = 4


class ProtocolError(Exception):
    """A frame that does not follow the contract above."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return _PREFIX.pack(len(raw), len(body)) + raw + body


async def read_frame(reader: asyncio.StreamReader, max_body: int) -> tuple[dict[str, Any], bytes]:
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


def _parse_header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("frame header must be a JSON object with a string 'type'")
    return header


class FrameReader:
    """``read_frame`` for an ``asyncio.Protocol``: bytes in as they arrive, frames out through
    callbacks, with no task or stream in between (the gateway reads every result this way).

    ``on_frame(header, body)`` gets each frame; ``on_oversize(header, size)`` a frame whose
    body was over ``max_body`` (skipped, as ``read_frame`` raises ``BodyTooLarge``), once the
    body has passed. ``feed`` raises ``ProtocolError`` for a bad frame; what came before it was
    delivered. ``pending`` says whether a frame is partly read (EOF now is mid-frame)."""

    def __init__(
        self,
        max_body: int,
        on_frame: Callable[[dict[str, Any], bytes], None],
        on_oversize: Callable[[dict[str, Any], int], None],
    ) -> None:
        self.max_body = max_body
        self.on_frame = on_frame
        self.on_oversize = on_oversize
        self._buffer = bytearray()
        self._need = 0  # bytes the buffer must hold before a frame can be read from it
        self._skip = 0  # bytes of an oversize body still to drop
        self._skipped: tuple[dict[str, Any], int] | None = None

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
                header = _parse_header(data[start : start + header_len])
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
            header = _parse_header(data[start : start + header_len])
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


class Outbox:
    """Frames queued in one turn of the event loop leave in one write.

    Under load many invocations start or finish in the same turn; one write instead of one
    per frame saves system calls and wakes the peer once."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._parts: list[bytes] = []

    def put(self, data: bytes) -> None:
        if not self._parts:
            asyncio.get_running_loop().call_soon(self._flush)
        self._parts.append(data)

    def _flush(self) -> None:
        parts, self._parts = self._parts, []
        if not self._writer.is_closing():
            self._writer.write(b"".join(parts) if len(parts) > 1 else parts[0])


class BodyTooLarge(ProtocolError):
    """A frame whose body is over the reader's limit; the header was read, the body skipped."""

    def __init__(self, header: dict[str, Any], size: int) -> None:
        super().__init__(f"frame body of {size} bytes is over the limit")
        self.header = header
        self.size = size


async def _skip(reader: asyncio.StreamReader, count: int) -> None:
    while count:
        chunk = await reader.read(min(count, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection mid-frame")
        count -= len(chunk)
