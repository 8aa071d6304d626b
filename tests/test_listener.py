"""listener.py: uvicorn with read deadlines, on a real socket in this process (a trivial app)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn

from callbox.config import Config
from callbox.listener import ListenError, listen, uvicorn_settings

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
MIN_RATE = 1000  # bytes per second earn one more second

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, then answers its length (after ?sleep=S seconds)."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["query_string"].startswith(b"sleep="):
        await asyncio.sleep(float(scope["query_string"][6:]))
    body = str(size).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def running(config: Config) -> AsyncIterator[Connect]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_settings(app, config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield lambda: asyncio.open_connection("127.0.0.1", port)
    server.should_exit = True
    await task


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    config = Config.load(
        {},
        request_header_timeout=HEADER_TIMEOUT,
        request_body_timeout=BODY_TIMEOUT,
        request_body_min_rate=MIN_RATE,
    )
    async for made in running(config):
        yield made


async def answer(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), within)


def request(body: bytes = b"", path: str = "/", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode() + body


def assert_408(data: bytes) -> None:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), data
    assert b"connection: close" in head
    assert json.loads(body)["code"] == 20408


async def test_a_complete_request_is_answered(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(request(b"hello"))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert await reader.readexactly(1) == b"5"
    writer.close()


async def test_headers_that_never_end_are_a_408(connect: Connect) -> None:
    # From issue 13: 300 half-sent requests were still open after 40 s.
    started = time.monotonic()
    clients = [await connect() for _ in range(30)]
    for _, writer in clients:
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
    for reader, _ in clients:
        assert_408(await answer(reader))
    assert time.monotonic() - started < HEADER_TIMEOUT + 3  # generous: a loaded machine


async def test_a_connection_that_sends_nothing_is_closed(connect: Connect) -> None:
    reader, _ = await connect()
    assert_408(await answer(reader))


async def trickle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, pause: float
) -> bytes:
    """Send ``data`` a byte per ``pause`` seconds until the server answers; its answer."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            first = await asyncio.wait_for(reader.read(65536), pause)
        except TimeoutError:
            continue
        return first + await answer(reader)
    return await answer(reader)


async def test_headers_a_byte_at_a_time_are_cut_off_at_the_deadline(connect: Connect) -> None:
    reader, writer = await connect()
    started = time.monotonic()
    data = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 1000
    assert_408(await trickle(reader, writer, data, 0.05))
    assert time.monotonic() - started < HEADER_TIMEOUT + 3  # without a deadline: 50 s


async def test_a_body_that_stops_coming_is_a_408(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(request(b"only part", length=100))
    assert_408(await answer(reader))


async def test_a_body_trickling_below_the_rate_is_cut_off(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(request(length=1000))
    started = time.monotonic()
    assert_408(await trickle(reader, writer, b"x" * 1000, 0.05))  # 20 bytes a second
    assert time.monotonic() - started < BODY_TIMEOUT + 3  # without a deadline: 50 s


async def test_a_slow_body_at_the_rate_is_read_whole(connect: Connect) -> None:
    # 1,800 bytes at about 1,800 bytes a second: over the 0.5 s timeout, within its extension.
    reader, writer = await connect()
    writer.write(request(length=1800))
    for _ in range(18):
        writer.write(b"y" * 100)
        await asyncio.sleep(0.05)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert await reader.readexactly(4) == b"1800"
    writer.close()


async def test_a_slow_answer_is_not_a_slow_request(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(request(b"abc", path=f"/?sleep={HEADER_TIMEOUT + BODY_TIMEOUT + 0.3}"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 ")
    writer.close()


async def test_a_kept_alive_connection_gets_a_deadline_per_request(connect: Connect) -> None:
    reader, writer = await connect()
    for _ in range(2):
        writer.write(request(b"ab"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await reader.readexactly(1) == b"2"
        await asyncio.sleep(HEADER_TIMEOUT * 0.6)  # idle between requests: not counted
    writer.write(b"GET / HTTP/1.1\r\n")
    assert_408(await answer(reader))


async def test_limits_of_zero_are_off() -> None:
    config = Config.load({}, request_header_timeout=0, request_body_timeout=0)
    async for connect in running(config):
        reader, writer = await connect()
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
        await asyncio.sleep(HEADER_TIMEOUT + 0.5)
        assert not reader.at_eof()
        writer.write(b"\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.close()


async def test_each_limit_works_without_the_other() -> None:
    only_body = Config.load({}, request_header_timeout=0, request_body_timeout=BODY_TIMEOUT)
    async for connect in running(only_body):
        reader, writer = await connect()
        writer.write(request(b"part", length=10))
        assert_408(await answer(reader))
    only_headers = Config.load({}, request_header_timeout=HEADER_TIMEOUT, request_body_timeout=0)
    async for connect in running(only_headers):
        reader, writer = await connect()
        writer.write(request(b"part", length=10))
        await asyncio.sleep(HEADER_TIMEOUT + BODY_TIMEOUT)
        assert not reader.at_eof()
        writer.write(b"x" * 6)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.close()


def test_the_limits_come_from_callbox_variables() -> None:
    config = Config.load(
        {
            "CALLBOX_REQUEST_HEADER_TIMEOUT": "2.5",
            "CALLBOX_REQUEST_BODY_TIMEOUT": "7",
            "CALLBOX_REQUEST_BODY_MIN_RATE": "100",
        }
    )
    assert (config.request_header_timeout, config.request_body_timeout) == (2.5, 7.0)
    assert config.request_body_min_rate == 100


def test_a_key_without_a_certificate_is_refused() -> None:
    with pytest.raises(ListenError, match="--ssl-keyfile needs --ssl-certfile"):
        uvicorn_settings(app, Config.load({}), keyfile="key.pem")


def test_an_unreadable_certificate_is_one_clear_error(tmp_path: Any) -> None:
    bad = tmp_path / "cert.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ListenError, match="Cannot use the TLS certificate"):
        uvicorn_settings(app, Config.load({}), certfile=str(bad))
    with pytest.raises(ListenError, match="Cannot use the TLS certificate"):
        uvicorn_settings(app, Config.load({}), certfile=str(tmp_path / "missing.pem"))


async def test_a_request_that_is_not_http_gets_a_twilio_400(connect: Connect) -> None:
    # From the schema fuzz run: uvicorn's own answer was a text/plain 400.
    reader, writer = await connect()
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\ntransfer-encoding;: x\r\n\r\n")
    head, _, body = (await answer(reader)).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), head
    assert b"content-type: application/json" in head and b"connection: close" in head
    assert json.loads(body) == {
        "code": 20001,
        "message": "The request is not valid HTTP/1.1; it was not read.",
        "more_info": "https://www.twilio.com/docs/errors/20001",
        "status": 400,
    }
