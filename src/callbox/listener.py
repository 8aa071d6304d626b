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
The cost is one timer armed and cancelled per request: about 2 microseconds on uvloop
(measured), against about 31 for a request to a bare uvicorn app.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from callbox.config import Config
from callbox.errors import BadRequest, CallboxError, RequestTimeout

if TYPE_CHECKING:
    import uvicorn


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
    app: Any, config: Config, *, certfile: str | None = None, keyfile: str | None = None
) -> uvicorn.Config:
    """How ``start`` and ``serve`` run uvicorn; with ``certfile`` (and ``keyfile`` unless the
    certificate file holds the key too) it speaks HTTPS. Raises ListenError for a certificate
    or key that cannot be used."""
    import ssl

    import uvicorn

    if keyfile and not certfile:
        raise ListenError("--ssl-keyfile needs --ssl-certfile (the certificate it goes with).")
    settings = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=deadline_protocol(config),
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


def deadline_protocol(config: Config) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the read deadlines of ``config``."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    header_timeout = config.request_header_timeout
    body_timeout = config.request_body_timeout
    min_rate = config.request_body_min_rate
    refusal = _refusal(RequestTimeout("The request was not received in time; send it again."))
    malformed = _refusal(BadRequest("The request is not valid HTTP/1.1; it was not read."))

    class DeadlineProtocol(HttpToolsProtocol):
        # One timer per request, armed when it begins and cancelled when it has been read:
        # when it fires, the phase says which deadline applies (and it may be re-armed).
        _timer: asyncio.TimerHandle | None = None
        _in_body = False
        _body_started = 0.0
        _body_received = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
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
            super().on_message_begin()
            self._in_body = False
            if self._timer is None:  # a later request of a kept-alive connection
                self._arm(header_timeout)

        def on_headers_complete(self) -> None:
            upgrading = self.parser.should_upgrade() and self._should_upgrade()
            super().on_headers_complete()
            if upgrading:
                self._disarm()
                return
            self._in_body = True
            self._body_started, self._body_received = self.loop.time(), 0
            if self._timer is None:  # no header deadline: the body's starts now
                self._arm(body_timeout)

        def on_body(self, body: bytes) -> None:
            self._body_received += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            self._in_body = False
            super().on_message_complete()

        def _arm(self, delay: float) -> None:
            self._disarm()
            if delay > 0:
                self._timer = self.loop.call_later(delay, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
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
