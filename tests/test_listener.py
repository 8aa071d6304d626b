"""listener.py: uvicorn with read deadlines and the fast lane, on a real socket in this process
(a trivial app, and a trivial lane answering as the app does: every deadline test runs both)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from callbox.config import Config
from callbox.gateway.app import Answer, Encoded, Request, Respond, Ticket
from callbox.gateway.source import Deployment
from callbox.listener import ListenError, listen, uvicorn_settings
from callbox.routes import Route

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


class EchoLane:
    """A lane that takes what the gateway's would (a body of known length) unless the path
    is /asgi, and answers as ``app`` does: the body's length, after ?sleep=S seconds."""

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.deployment = Deployment("build", "service", Path("."), {})
        self.route = Route("/", "function", "public", Path("f.js"))

    def admit(self, request: Request) -> Ticket | None:
        chunked = any(name == b"transfer-encoding" for name, _ in request.headers)
        if chunked or request.path == "/asgi":
            return None
        self.taken.append(request.target)
        return Ticket(request, "t", self.deployment, self.route, time.perf_counter())

    def begin(self, ticket: Ticket, body: bytes, respond: Respond) -> None:
        answer = Answer(200, [("X-Lane", "yes")], str(len(body)).encode())
        query = ticket.request.query
        if query.startswith(b"sleep="):
            asyncio.get_running_loop().call_later(float(query[6:]), respond, answer)
        else:
            respond(answer)

    def answered(self, ticket: Ticket, answer: Answer) -> Encoded:
        headers = [(k.encode(), v.encode()) for k, v in answer.headers]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        return answer.status, headers, answer.body


async def running(
    config: Config, lane: EchoLane | None = None, keep_alive: float = 5.0
) -> AsyncIterator[Connect]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = uvicorn_settings(app, config, lane=lane)
    settings.timeout_keep_alive = keep_alive  # type: ignore[assignment]
    server = uvicorn.Server(settings)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield lambda: asyncio.open_connection("127.0.0.1", port)
    server.should_exit = True
    await task


@pytest.fixture(params=["asgi", "lane"])
def lane(request: pytest.FixtureRequest) -> EchoLane | None:
    return EchoLane() if request.param == "lane" else None


def deadlines() -> Config:
    return Config.load(
        {},
        request_header_timeout=HEADER_TIMEOUT,
        request_body_timeout=BODY_TIMEOUT,
        request_body_min_rate=MIN_RATE,
    )


@pytest.fixture
async def connect(lane: EchoLane | None) -> AsyncIterator[Connect]:
    async for made in running(deadlines(), lane):
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


async def test_limits_of_zero_are_off(lane: EchoLane | None) -> None:
    config = Config.load({}, request_header_timeout=0, request_body_timeout=0)
    async for connect in running(config, lane):
        reader, writer = await connect()
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
        await asyncio.sleep(HEADER_TIMEOUT + 0.5)
        assert not reader.at_eof()
        writer.write(b"\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.close()


async def test_each_limit_works_without_the_other(lane: EchoLane | None) -> None:
    only_body = Config.load({}, request_header_timeout=0, request_body_timeout=BODY_TIMEOUT)
    async for connect in running(only_body, lane):
        reader, writer = await connect()
        writer.write(request(b"part", length=10))
        assert_408(await answer(reader))
    only_headers = Config.load({}, request_header_timeout=HEADER_TIMEOUT, request_body_timeout=0)
    async for connect in running(only_headers, lane):
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


# -- the fast lane -----------------------------------------------------------------------------


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One answer of a kept-alive connection: (head, body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.startswith(b"content-length")
    )
    return head, await reader.readexactly(length)


async def test_the_lane_answers_with_the_framing_of_the_asgi_path() -> None:
    lane = EchoLane()
    async for connect in running(deadlines(), lane):
        reader, writer = await connect()
        writer.write(request(b"hello", path="/taken?a=1") + request(b"hello", path="/asgi"))
        taken, body = await read_answer(reader)
        assert body == b"5"
        assert lane.taken == ["/taken?a=1"]  # the other was declined: the ASGI app's
        asgi, body = await read_answer(reader)
        assert body == b"5"
        for head in (taken, asgi):
            lines = head.split(b"\r\n")
            assert lines[0] == b"HTTP/1.1 200 OK"
            assert lines[1].startswith(b"date: ")  # uvicorn's default headers, first
            assert b"content-length: 1" in lines
        assert b"x-lane: yes" in taken.split(b"\r\n")  # names go out lower case, as uvicorn's
        writer.close()


async def test_requests_pipelined_behind_a_lane_request_are_answered_in_order() -> None:
    lane = EchoLane()
    async for connect in running(deadlines(), lane):
        reader, writer = await connect()
        chunked = (
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
        )
        writer.write(
            request(b"1", path="/?sleep=0.3")  # the lane, answered late
            + chunked  # the ASGI path, queued behind it
            + request(b"22222")  # lane-worthy, but pipelined: the ASGI path, in its turn
            + request(b"4444", path="/?sleep=0.1")
        )
        bodies = [(await read_answer(reader))[1] for _ in range(4)]
        assert bodies == [b"1", b"3", b"5", b"4"]
        assert lane.taken[0] == "/?sleep=0.3"
        writer.close()


@pytest.mark.parametrize(
    "ask",
    [
        b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.0\r\nHost: t\r\nContent-Length: 2\r\n\r\nab",
    ],
)
async def test_a_lane_answer_closes_a_connection_that_asked_it(ask: bytes) -> None:
    lane = EchoLane()
    async for connect in running(deadlines(), lane):
        reader, writer = await connect()
        writer.write(ask)
        data = await answer(reader)  # to the end: the server closed it
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"connection: close" in head.split(b"\r\n") and body == b"2"
        assert lane.taken == ["/"]


async def test_a_client_gone_before_the_lane_answers_leaves_the_server_serving() -> None:
    lane = EchoLane()
    async for connect in running(deadlines(), lane):
        _, gone = await connect()
        gone.write(request(b"abc", path="/?sleep=0.2"))
        await asyncio.sleep(0.05)
        gone.close()
        await asyncio.sleep(0.3)  # its answer came for nobody
        reader, writer = await connect()
        writer.write(request(b"ab"))
        assert (await read_answer(reader))[1] == b"2"
        writer.close()


async def test_a_lane_body_sent_in_pieces_arrives_whole() -> None:
    lane = EchoLane()
    async for connect in running(deadlines(), lane):
        reader, writer = await connect()
        data = request(b"x" * 5000)
        for start in range(0, len(data), 700):
            writer.write(data[start : start + 700])
            await writer.drain()
            await asyncio.sleep(0.01)
        assert (await read_answer(reader))[1] == b"5000"
        writer.close()


async def test_an_idle_kept_alive_connection_is_closed(lane: EchoLane | None) -> None:
    # uvicorn's keep-alive timeout, which the deadline sweep now keeps.
    config = Config.load({}, request_header_timeout=0, request_body_timeout=0)
    async for connect in running(config, lane, keep_alive=0.3):
        reader, writer = await connect()
        writer.write(request(b"ab"))
        assert (await read_answer(reader))[1] == b"2"
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing sent
        assert 0.2 < time.monotonic() - started < 3


async def test_stopping_with_a_lane_request_in_flight_answers_it_then_closes() -> None:
    lane = EchoLane()
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_settings(app, deadlines(), lane=lane))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request(b"abc", path="/?sleep=0.3"))
    await asyncio.sleep(0.1)
    server.should_exit = True
    data = await answer(reader)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and body == b"3"
    assert b"connection: close" in head.split(b"\r\n")
    await asyncio.wait_for(task, 5)
