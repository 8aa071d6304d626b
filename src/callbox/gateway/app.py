"""The data plane: an ASGI app that answers function and asset requests.

Header limits; host -> deployment -> route; then, in order: method (405 naming what the route
answers), CORS preflight, body size, visibility (404 private, 403 bad signature), and either the
asset (``assets.py``: validators, 304, ranges) or an invocation through the build's pool. Every
failure is a ``CallboxError`` rendered as JSON by the guard around it all.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from callbox.asgi import Receive, Scope, Send
from callbox.config import Config
from callbox.errors import (
    BadRequest,
    CallboxError,
    Forbidden,
    FunctionError,
    HeadersTooLarge,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from callbox.gateway import signature
from callbox.gateway.assets import serve_asset
from callbox.gateway.pool import Pool
from callbox.gateway.source import Deployment, DeploymentSource
from callbox.routes import Route
from callbox.runtime.event import EventError, build_event
from callbox.worker.frames import LogLine

log = logging.getLogger("callbox.gateway")

# What each kind of route answers (the Allow header of a 405).
METHODS = {"function": ("GET", "POST", "OPTIONS"), "asset": ("GET", "HEAD", "POST", "OPTIONS")}
_HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer"}
)
# RFC 9110: a field name is a token; a field value has no control characters but HTAB.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Max-Age", "86400"),
]


@dataclass
class Served:
    """One request the gateway answered (an access log line, a metric)."""

    method: str
    path: str
    host: str
    client: str
    status: int
    duration_ms: float
    size: int
    request_sid: str = ""  # an invocation's (RQ...), else ""
    meta: dict[str, Any] | None = None  # an invocation's: service, environment, function...


# Twilio's error codes for what failed (docs/debugging.md lists them).
FAILED_INVOCATION = 82002  # "Error on Twilio Function response": it answered 5xx
RESPONSE_HEADERS_TOO_LONG = 82008


class GatewayEvents(Protocol):
    """Where the gateway reports what happened (the dev server prints; a server stores)."""

    def request_done(self, served: Served) -> None: ...

    def function_logs(self, meta: dict[str, Any], lines: list[LogLine]) -> None: ...

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None: ...


class PoolRegistry(Protocol):
    def pool_for(self, deployment: Deployment) -> Pool: ...


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: int | None = None  # the Content-Length of a HEAD answer (it has no body)
    meta: dict[str, Any] | None = None  # an invocation's (its answer may still fail to encode)


class Gateway:
    def __init__(
        self,
        config: Config,
        source: DeploymentSource,
        pools: PoolRegistry,
        events: GatewayEvents,
    ) -> None:
        self.config = config
        self.source = source
        self.pools = pools
        self.events = events
        self._in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        answer: Answer | None = None
        try:
            answer = await self.handle(scope, receive)
            headers = _encode_headers(answer)
        except CallboxError as exc:
            if answer is not None and answer.meta is not None:  # the function's own headers
                self._failed(answer.meta, exc)
            meta = exc.meta or (answer.meta if answer is not None else None)
            answer = error_answer(exc)
            answer.meta = meta
            headers = _encode_headers(answer)
        except Exception:  # the guard: no input may crash the server or leak a traceback
            log.exception("Unexpected error while answering %s %s", scope["method"], scope["path"])
            answer = error_answer(FunctionError("An internal error occurred in the gateway."))
            headers = _encode_headers(answer)
        try:
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
        except OSError:
            pass  # the client went away; nothing left to tell it
        client = scope.get("client")
        meta = answer.meta
        self.events.request_done(
            Served(
                method=scope["method"],
                path=scope["path"],
                host=header(scope["headers"], b"host") or "",
                client=client[0] if client else "-",
                status=answer.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                size=len(answer.body),
                request_sid=meta.get("request_sid", "") if meta else "",
                meta=meta,
            )
        )

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        method = scope["method"]
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        header_bytes = self._check_request_headers(raw_headers)
        host = only_host(raw_headers)
        deployment = await self.source.resolve(host.rsplit(":", 1)[0] if host else "")
        if deployment is None:
            raise NotFound(f"No environment is served at {host or 'this address'}.")
        route = deployment.route_for(scope["path"])
        if route is None or route.visibility == "private":
            raise NotFound(f"The requested resource {scope['path']} was not found")
        allowed = METHODS[route.kind]
        if method not in allowed:
            *others, last = allowed
            raise MethodNotAllowed(
                f"Method {method} is not supported; {route.kind}s answer "
                f"{', '.join(others)} and {last}.",
                allow=allowed,
            )
        if method == "OPTIONS":
            return Answer(204, list(CORS_HEADERS))
        total = self.config.max_request_bytes
        declared = header(raw_headers, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) + header_bytes > total:
            raise _too_large(total)
        body = await _read_body(receive, total - header_bytes, total)
        if route.visibility == "protected":
            self._check_signature(deployment, scope, raw_headers, host, body)
        if route.kind == "asset":
            served = await serve_asset(route.file, route.path, method, raw_headers)
            return Answer(served.status, served.headers, served.body, served.length)
        return await self._invoke(deployment, route, scope, raw_headers, host, body)

    def _check_request_headers(self, raw: list[tuple[bytes, bytes]]) -> int:
        size = header_bytes(raw)
        count = len(raw) + sum(
            value.count(b";") for name, value in raw if name.lower() == b"cookie"
        )
        if size > self.config.max_header_bytes or count > self.config.max_header_count:
            raise HeadersTooLarge("Request headers or cookies too long")
        return size

    def _check_signature(
        self,
        deployment: Deployment,
        scope: Scope,
        raw: list[tuple[bytes, bytes]],
        host: str,
        body: bytes,
    ) -> None:
        if deployment.auth_token is None:
            if self.config.skip_signature_check:
                return
            raise Forbidden(
                "Unauthorized Request. Signature is missing or is invalid: this resource is "
                "protected and no AUTH_TOKEN is configured to check signatures."
            )
        url = f"{scope.get('scheme', 'http')}://{host}{raw_path(scope)}"
        valid = signature.is_valid(
            auth_token=deployment.auth_token,
            url=url,
            signature=header(raw, b"x-twilio-signature"),
            body=body,
            content_type=header(raw, b"content-type") or "",
        )
        if not valid:
            raise Forbidden("Unauthorized Request. Signature is missing or is invalid.")

    async def _invoke(
        self,
        deployment: Deployment,
        route: Route,
        scope: Scope,
        raw: list[tuple[bytes, bytes]],
        host: str,
        body: bytes,
    ) -> Answer:
        try:
            event = build_event(query_string=scope["query_string"], headers=raw, body=body)
        except EventError as exc:
            raise BadRequest(str(exc)) from None
        service = deployment.service_key
        if self._in_flight.get(service, 0) >= self.config.concurrency_limit:
            raise TooManyRequests(
                f"Too many concurrent invocations: the limit is {self.config.concurrency_limit} "
                "per service."
            )
        request_sid = "RQ" + os.urandom(16).hex()
        scope["callbox.request_sid"] = request_sid  # for the server's access log
        context = {
            "PATH": route.path,
            "DOMAIN_NAME": _domain_name(deployment.domain, host),
            "SERVICE_SID": deployment.service_sid,
            "ENVIRONMENT_SID": deployment.environment_sid,
            **deployment.variables,
        }
        meta = {
            "path": route.path,
            "request_sid": request_sid,
            "request_method": scope["method"],
            "request_url": f"{scope.get('scheme', 'http')}://{host}{raw_path(scope)}",
            "build": deployment.build_key,
            "function_sid": route.sid,
            **deployment.log_tags,
        }
        self._in_flight[service] = self._in_flight.get(service, 0) + 1
        try:
            pool = self.pools.pool_for(deployment)
            reply = await pool.invoke(request_sid, route.path, context, event, meta)
        except CallboxError as exc:  # timed out, crashed, out of memory, could not start
            self._failed(meta, exc)
            raise
        finally:
            self._in_flight[service] -= 1
        if reply.logs:
            self.events.function_logs(meta, reply.logs)
        try:
            answer = self._check_response(reply.status, reply.headers, reply.body, reply.oversize)
        except CallboxError as exc:
            self._failed(meta, exc)
            raise
        answer.meta = meta
        if answer.status >= 500:  # the function's own error: its worker wrote the ERROR line
            self.events.invocation_failed(meta, FAILED_INVOCATION, _failure_text(answer))
        return answer

    def _failed(self, meta: dict[str, Any], exc: CallboxError) -> None:
        """A failure the gateway saw (not the function's code): an ERROR line and a failure."""
        exc.meta = meta
        text = f"{meta.get('path', '?')} failed: {exc.message}"
        line: LogLine = {"level": "ERROR", "message": text, "time": time.time()}
        self.events.function_logs(meta, [line])
        code = RESPONSE_HEADERS_TOO_LONG if isinstance(exc, HeadersTooLarge) else FAILED_INVOCATION
        self.events.invocation_failed(meta, code, text)

    def _check_response(
        self, status: int, headers: list[tuple[str, str]], body: bytes, oversize: int | None
    ) -> Answer:
        if not 200 <= status <= 599:
            raise FunctionError(
                f"The function answered status {status}; a response status must be 200-599."
            )
        # Framing is the server's job: a function's own Content-Length or Transfer-Encoding
        # would contradict the body actually sent and break the connection.
        headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        if status in (204, 304):
            body = b""
        size = oversize if oversize is not None else len(body)
        limit = self.config.max_response_bytes
        if size > limit:
            raise FunctionError(
                f"The function's response is {size} bytes; responses may be at most {_size(limit)}."
            )
        header_size = sum(len(k) + len(v) + 4 for k, v in headers)
        if (
            header_size > self.config.max_header_bytes
            or len(headers) > self.config.max_header_count
        ):
            raise HeadersTooLarge("Response headers or cookies too long")
        return Answer(status, headers, body)


def _failure_text(answer: Answer) -> str:
    """What a 5xx answer of a function said (its JSON error's message, else its status)."""
    try:
        message = json.loads(answer.body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else f"The function answered {answer.status}."


def error_answer(exc: CallboxError) -> Answer:
    headers = [("Content-Type", "application/json; charset=utf-8")]
    if isinstance(exc, MethodNotAllowed) and exc.allow:
        headers.append(("Allow", ", ".join(exc.allow)))
    if exc.retry_after is not None:
        headers.append(("Retry-After", str(exc.retry_after)))
    return Answer(exc.status, headers, exc.to_json())


def _encode_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    """Headers as bytes, each checked: what a function sets must not break the response."""
    encoded = []
    for name, value in answer.headers:
        if not _TOKEN.fullmatch(name):
            raise FunctionError(
                f"The response header name {name!r} is not valid: a header name is one or more "
                "letters, digits or !#$%&'*+-.^_`|~ (no spaces, colons or control characters)."
            )
        if _CONTROL.search(value):
            # A CR or LF would let the function smuggle in header lines of its own.
            raise FunctionError(
                f"The response header {name!r} has a control character (CR, LF, NUL, ...) in "
                "its value; remove it, or encode the value, e.g. with urllib.parse.quote."
            )
        try:
            encoded.append((name.encode("latin-1"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise FunctionError(
                f"The response header {name!r} has characters HTTP headers cannot carry "
                "(only ISO-8859-1 is allowed); encode the value, e.g. with urllib.parse.quote."
            ) from None
    if answer.status not in (204, 304):  # these carry no body, so no length either
        length = len(answer.body) if answer.length is None else answer.length
        encoded.append((b"content-length", str(length).encode()))
    return encoded


async def _read_body(receive: Receive, limit: int, limit_total: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client closed the connection before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit_total)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        "The request is too large: body, headers and cookies together may be at most "
        f"{_size(limit)}."
    )


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MB"
    return f"{limit} bytes"


async def refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """Functions and assets speak plain HTTP: a WebSocket handshake gets a 400 (as JSON where
    the server can send a body with the refusal, else the server's bare 403)."""
    await receive()  # websocket.connect
    error = BadRequest(
        "WebSocket connections are not supported: functions, assets and the API answer plain "
        "HTTP requests."
    )
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"connection", b"close")]
    body = error.to_json()
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


def only_host(raw: list[tuple[bytes, bytes]]) -> str:
    """The request's one Host header ("" when absent); two are a 400, not a choice to make."""
    hosts = [value for key, value in raw if key.lower() == b"host"]
    if len(hosts) > 1:
        raise BadRequest(
            f"The request has {len(hosts)} Host headers; send exactly one (RFC 9112, 3.2)."
        )
    return hosts[0].decode("latin-1") if hosts else ""


def header_bytes(raw: list[tuple[bytes, bytes]]) -> int:
    """The size of request headers as the limits count it (name, value, ": ", CRLF)."""
    return sum(len(name) + len(value) + 4 for name, value in raw)


def header(raw: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _domain_name(domain: str | None, host: str) -> str:
    """The deployment's domain with the port the client reached it on, if the Host named one:
    ``https://{DOMAIN_NAME}/path`` must lead back to the function."""
    if not domain:
        return host
    _, colon, port = host.rpartition(":")
    return f"{domain}:{port}" if colon and port.isdigit() else domain


def raw_path(scope: Scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")
