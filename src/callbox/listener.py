"""The socket side of ``callbox start`` and ``callbox serve``: binding the port, uvicorn's
settings (TLS included), and uvicorn's HTTP protocol with deadlines for reading a request.

uvicorn has no such deadlines (its keep-alive timeout covers only the idle time between
requests), so a client sending its headers or body a byte at a time would hold a connection
forever, and enough of them would exhaust the server. Here:

- the request line and headers must arrive within ``request_header_timeout`` seconds of the
  connection (or, on a kept-alive connection, of the request's first byte);
- the body within ``request_body_timeout`` seconds of the headers, plus one second for every
  ``request_body_min_rate`` bytes received (a large upload on a slow link is not cut off, a
  trickle is);

otherwise the client gets ``408 Request Timeout`` (when nothing was answered yet) and the
connection is closed. Time during which callbox itself stopped reading (flow control, the
previous request of a pipeline still running) is not counted. A limit of 0 turns it off.
No timer is armed per request: a connection notes when its deadline (or, kept alive, its
idle wait, uvicorn's ``timeout_keep_alive``) passes, and one sweep per server looks every
``tick`` (a fifth of the shortest limit, at most 0.25 s), so a deadline is acted on at most a
tick late. Two timers armed and cancelled per request cost about 3 microseconds.

The fast lane. A function invocation is most of what a server answers, and the ASGI path
costs it a task, a scope, two awaited sends and a wrapper per layer. When the headers are in,
the protocol asks its ``Lane`` (the server) whether it takes the request; a taken request is
read, started and answered from the parser's callbacks and the worker's reply, in one write.
What the lane declines (the API, assets, errors, chunked bodies, ``Expect``, a request
pipelined behind another) goes to uvicorn's ASGI cycle as before, so every answer keeps one
meaning whichever way it went. A lane request stands in uvicorn's ``cycle`` slot
(``LaneCycle``), so keep-alive, pipelining, shutdown and the deadlines above treat it alike.
"""

from __future__ import annotations

import asyncio
import re
import socket
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from callbox.config import Config
from callbox.errors import BadRequest, CallboxError, RequestTimeout
from callbox.gateway.app import Answer, Encoded, Request, Respond, Ticket

if TYPE_CHECKING:
    import uvicorn


# What makes a request target more than a plain path (a query, escapes, a fragment, non-ASCII).
_NOT_PLAIN = re.compile(rb"[?%#\x80-\xff]")


class Lane(Protocol):
    """What a server offers the fast lane (``callbox serve``'s and ``callbox start``'s apps)."""

    def admit(self, request: Request) -> Ticket | None:
        """Whether the lane takes this request (headers read, body not yet): None = no."""
        ...

    def begin(self, ticket: Ticket, body: bytes, respond: Respond) -> None:
        """Start it, its body read; ``respond`` gets its answer."""
        ...

    def answered(self, ticket: Ticket, answer: Answer) -> Encoded:
        """The answer as it is to be written, once it is logged and counted."""
        ...


class _Event:
    """What uvicorn sets on a request's cycle when the connection is lost: nothing waits."""

    def set(self) -> None:
        pass


_NO_WAITER = _Event()


class LaneCycle:
    """A lane request in uvicorn's ``cycle`` slot: the fields uvicorn's protocol reads."""

    __slots__ = ("ticket", "keep_alive", "body", "response_complete", "disconnected")
    response_started = False
    message_event = _NO_WAITER

    def __init__(self, ticket: Ticket, keep_alive: bool) -> None:
        self.ticket = ticket
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.response_complete = False
        self.disconnected = False


class ListenError(Exception):
    """The port cannot be bound, or the TLS certificate cannot be used: one line for the user."""


def listen(host: str, port: int) -> socket.socket:
    """Bind before saying "Listening": a busy port is one clear line, not a traceback."""
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).split(" (while", 1)[0]
        raise ListenError(
            f"Cannot listen on {host}:{port}: {reason}. Choose another port with --port."
        ) from None


def uvicorn_settings(
    app: Any,
    config: Config,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    lane: Lane | None = None,
) -> uvicorn.Config:
    """How ``start`` and ``serve`` run uvicorn; with ``certfile`` (and ``keyfile`` unless the
    certificate file holds the key too) it speaks HTTPS; with ``lane``, function calls take the
    fast lane. Raises ListenError for a certificate or key that cannot be used."""
    import ssl

    import uvicorn

    if keyfile and not certfile:
        raise ListenError("--ssl-keyfile needs --ssl-certfile (the certificate it goes with).")
    settings = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=deadline_protocol(config, lane),
        loop="uvloop",
        # X-Forwarded-* must not change the URL a signature is checked against unless it comes
        # from a trusted proxy: callbox decides that itself (CALLBOX_TRUSTED_PROXIES).
        proxy_headers=False,
        server_header=False,
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
    )
    try:
        settings.load()  # builds the TLS context now: a bad file is an error before "Listening"
    except (OSError, ssl.SSLError) as exc:
        raise ListenError(
            f"Cannot use the TLS certificate {certfile} (key: {keyfile or 'in the same file'}): "
            f"{exc.strerror or exc}. Give a PEM certificate and its private key "
            "(--ssl-certfile, --ssl-keyfile)."
        ) from None
    return settings


def deadline_protocol(config: Config, lane: Lane | None = None) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the read deadlines of ``config`` and, given ``lane``,
    the fast lane."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    header_timeout = config.request_header_timeout
    body_timeout = config.request_body_timeout
    min_rate = config.request_body_min_rate
    refusal = _refusal(RequestTimeout("The request was not received in time; send it again."))
    malformed = _refusal(BadRequest("The request is not valid HTTP/1.1; it was not read."))

    sweep = _Sweep(_tick(header_timeout, body_timeout))

    class DeadlineProtocol(HttpToolsProtocol):
        # One deadline per request, set when it begins and cleared when it has been read: when
        # it passes, the phase says which one it was (and it may be set again).
        _due = 0.0  # loop time; 0: none
        _idle_due = 0.0  # kept alive with nothing asked: closed then (uvicorn's keep-alive)
        _in_body = False
        _body_started = 0.0
        _body_received = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._due = self._idle_due = 0.0
            super().connection_lost(exc)

        def shutdown(self) -> None:
            # The server is stopping. A TLS close waits (30 s) for the client's close_notify,
            # which an idle kept-alive client never sends: such connections are dropped.
            idle = self.cycle is None or self.cycle.response_complete
            if idle and self.scheme == "https" and not self.transport.get_write_buffer_size():
                self.transport.abort()
                return
            super().shutdown()

        def send_400_response(self, msg: str) -> None:
            # Unparseable HTTP: a Twilio error body like every other answer, not uvicorn's text.
            self.transport.write(malformed)
            self.transport.close()

        def on_message_begin(self) -> None:
            # uvicorn's, less the ASGI scope: the lane needs none, the ASGI path gets it when
            # the headers are in (_scope_now).
            self.url = b""
            self.expect_100_continue = False
            self.headers = []
            self._in_body = False
            if not self._due:  # a later request of a kept-alive connection
                self._arm(header_timeout)

        def on_headers_complete(self) -> None:
            upgrading = self.parser.should_upgrade() and self._should_upgrade()
            cycle = self.cycle
            idle = cycle is None or cycle.response_complete  # not pipelined behind another
            ticket = None
            if lane is not None and idle and not upgrading and not self.expect_100_continue:
                ticket = self._admit(lane)
            if ticket is not None:
                keep_alive = ticket.request.version != "1.0" and self.parser.should_keep_alive()
                self.cycle = LaneCycle(ticket, keep_alive)  # type: ignore[assignment]
            else:
                self._scope_now()
                super().on_headers_complete()
            if upgrading:
                self._disarm()
                return
            self._in_body = True
            self._body_started, self._body_received = self.loop.time(), 0
            if not self._due:  # no header deadline: the body's starts now
                self._arm(body_timeout)

        def on_body(self, body: bytes) -> None:
            self._body_received += len(body)
            cycle = self.cycle
            if type(cycle) is LaneCycle:  # admitted with a length within the limit
                cycle.body += body
                return
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            self._in_body = False
            cycle = self.cycle
            if type(cycle) is not LaneCycle:
                super().on_message_complete()
                return
            assert lane is not None
            lane.begin(cycle.ticket, bytes(cycle.body), partial(self._lane_answer, lane, cycle))

        def _scope_now(self) -> None:
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()  # uvicorn's: the scope (and what was read, emptied)
            self.url, self.expect_100_continue = url, expect
            self.headers = self.scope["headers"] = headers

        def _admit(self, lane: Lane) -> Ticket | None:
            target = self.url
            try:
                if target[:1] == b"/" and not _NOT_PLAIN.search(target):
                    raw, query = target, b""  # a plain path: nothing to parse
                else:
                    url = httptools.parse_url(target)
                    raw, query = url.path, url.query or b""
                path = raw.decode("ascii")
            except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
                return None  # the ASGI path answers what it makes of it
            if "%" in path:
                path = unquote(path)
            client = self.client
            request = Request(
                method=self.parser.get_method().decode("ascii"),
                path=path,
                target=(raw + b"?" + query if query else raw).decode("latin-1"),
                query=query,
                headers=self.headers,
                scheme=self.scheme or "http",
                client=client[0] if client else "-",
                version=self.parser.get_http_version(),
            )
            return lane.admit(request)

        def _lane_answer(self, lane: Lane, cycle: LaneCycle, answer: Answer) -> None:
            status, headers, body = lane.answered(cycle.ticket, answer)
            cycle.response_complete = True
            transport = self.transport
            if transport.is_closing():
                return  # the client went away; nothing left to tell it
            parts = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                parts += (name, b": ", value, b"\r\n")
            for name, value in headers:
                parts += (name.lower(), b": ", value, b"\r\n")
            if not cycle.keep_alive:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", body)
            transport.write(b"".join(parts))
            if not cycle.keep_alive:
                transport.close()
            self.on_response_complete()  # the next pipelined request, or the keep-alive timer

        def on_response_complete(self) -> None:
            # uvicorn's, but the keep-alive wait is a time the sweep checks, not a timer.
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            if self.pipeline:
                cycle, app = self.pipeline.pop()
                self._start_asgi_task(cycle, app)
            else:
                self._idle_due = self.loop.time() + self.timeout_keep_alive
                sweep.watch(self)

        def _unset_keepalive_if_required(self) -> None:
            self._idle_due = 0.0  # data came in (uvicorn calls this then)

        def _arm(self, delay: float) -> None:
            if delay > 0:
                self._due = self.loop.time() + delay
                sweep.watch(self)
            else:
                self._due = 0.0

        def _disarm(self) -> None:
            self._due = 0.0

        def swept(self, now: float) -> bool:
            """The sweep's visit: act on what passed; whether anything is still awaited."""
            if self._due and self._due <= now:
                self._due = 0.0
                self._expired()
            if self._idle_due and self._idle_due <= now:
                self._idle_due = 0.0
                self.timeout_keep_alive_handler()
            return bool(self._due or self._idle_due)

        def _expired(self) -> None:
            if self.transport.is_closing():
                return
            if self._in_body:
                self._body_late()
            elif self.cycle is not None and not self.cycle.response_complete:
                # Headers late while the previous request is still being answered: close the
                # connection after that answer.
                self.cycle.keep_alive = False
                self.flow.pause_reading()
            else:
                self._refuse()

        def _body_late(self) -> None:
            if body_timeout <= 0:
                return
            now = self.loop.time()
            if self.flow.read_paused:  # callbox is not reading: not the client's delay
                self._body_started, self._body_received = now, 0
                self._arm(body_timeout)
                return
            allowed = body_timeout + (self._body_received / min_rate if min_rate > 0 else 0)
            elapsed = now - self._body_started
            if elapsed < allowed:
                self._arm(allowed - elapsed)
                return
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()  # something was answered already: just hang up
                return
            self._refuse()

        def _refuse(self) -> None:
            self.transport.write(refusal)
            self.transport.close()  # the ASGI app, if waiting for the body, sees a disconnect

    return DeadlineProtocol


def _tick(*limits: float) -> float:
    shortest = min((limit for limit in limits if limit > 0), default=1.0)
    return max(0.01, min(0.25, shortest / 5))


class _Sweep:
    """One server's deadlines: the connections that await one, looked at every ``tick``
    seconds by a single timer that runs while there are any."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._watched: set[Any] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, connection: Any) -> None:
        self._watched.add(connection)
        if self._timer is None:
            self._timer = connection.loop.call_later(self.tick, self._run, connection.loop)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in list(self._watched):
            if not connection.swept(now):
                self._watched.discard(connection)
        self._timer = loop.call_later(self.tick, self._run, loop) if self._watched else None


def _refusal(error: CallboxError) -> bytes:
    body = error.to_json()
    reason = "Request Timeout" if error.status == 408 else "Bad Request"
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
