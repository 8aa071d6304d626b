"""The data plane: an ASGI app that answers function and asset requests.

Header limits; host -> deployment -> route; then, in order: method (405 naming what the route
answers), CORS preflight, body size, visibility (404 private, 403 bad signature), and either the
asset (``assets.py``: validators, 304, ranges) or an invocation through the build's pool. Every
failure is a ``CallboxError`` rendered as JSON by the guard around it all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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
from callbox.gateway.pool import Pool, Reply
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


@dataclass(slots=True)
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


# Request SIDs name invocations (logs, alerts); they guard nothing, so a generator seeded once
# from the system's randomness will do, without a system call per request.
_sids = random.Random(os.urandom(32))

# Twilio's error codes for what failed (docs/debugging.md lists them).
FAILED_INVOCATION = 82002  # "Error on Twilio Function response": it answered 5xx
RESPONSE_HEADERS_TOO_LONG = 82008


class GatewayEvents(Protocol):
    """Where the gateway reports what happened (the dev server prints; a server stores)."""

    # Whether request_done is wanted (a server without metrics has no use for it).
    counts_requests: bool

    def request_done(self, served: Served) -> None: ...

    def function_logs(self, meta: dict[str, Any], lines: list[LogLine]) -> None: ...

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None: ...


class PoolRegistry(Protocol):
    def pool_for(self, deployment: Deployment) -> Pool: ...


@dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: int | None = None  # the Content-Length of a HEAD answer (it has no body)
    meta: dict[str, Any] | None = None  # an invocation's (its answer may still fail to encode)


@dataclass(slots=True)
class Request:
    """What the gateway reads of a request: from an ASGI scope, or from the HTTP parser
    itself on the fast lane (``listener.py``)."""

    method: str
    path: str  # decoded
    target: str  # the path and query as sent (request URLs, signatures, the access log)
    query: bytes
    headers: list[tuple[bytes, bytes]]
    scheme: str = "http"
    client: str = "-"
    version: str = "1.1"

    @classmethod
    def from_scope(cls, scope: Scope) -> Request:
        client = scope.get("client")
        return cls(
            method=scope["method"],
            path=scope["path"],
            target=raw_path(scope),
            query=scope.get("query_string") or b"",
            headers=scope["headers"],
            scheme=scope.get("scheme", "http"),
            client=client[0] if client else "-",
            version=scope.get("http_version", "1.1"),
        )


@dataclass(slots=True)
class Ticket:
    """A function request the fast lane took: where it goes, known before its body is read."""

    request: Request
    host: str
    deployment: Deployment
    route: Route
    started: float


# What the fast lane writes: the status, the encoded headers (Content-Length included), the body.
Encoded = tuple[int, list[tuple[bytes, bytes]], bytes]
# What gets a request's answer.
Respond = Callable[[Answer], None]


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
        request = Request.from_scope(scope)
        try:
            answer = await self.handle(request, receive)
        except CallboxError as exc:
            answer = self._error(exc)
        except Exception:  # the guard: no input may crash the server or leak a traceback
            answer = _unexpected(request)
        status, headers, body = self.answered(request, answer, started)
        if answer.meta is not None:
            scope["callbox.request_sid"] = answer.meta.get("request_sid", "")  # the access log
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except OSError:
            pass  # the client went away; nothing left to tell it

    def answered(self, request: Request, answer: Answer, started: float) -> Encoded:
        """The answer as written (a function's headers that cannot be sent become a 500), and
        what it was reported as."""
        try:
            headers = _encode_headers(answer)
        except CallboxError as exc:
            if answer.meta is not None:  # the function's own headers
                self._failed(answer.meta, exc)
            meta = exc.meta or answer.meta
            answer = error_answer(exc)
            answer.meta = meta
            headers = _encode_headers(answer)
        meta = answer.meta
        if not self.events.counts_requests:
            return answer.status, headers, answer.body
        self.events.request_done(
            Served(
                method=request.method,
                path=request.path,
                host=header(request.headers, b"host") or "",
                client=request.client,
                status=answer.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                size=len(answer.body),
                request_sid=meta.get("request_sid", "") if meta else "",
                meta=meta,
            )
        )
        return answer.status, headers, answer.body

    async def handle(self, request: Request, receive: Receive) -> Answer:
        raw_headers = request.headers
        header_bytes = self._check_request_headers(raw_headers)
        host = only_host(raw_headers)
        deployment = await self.source.resolve(host.rsplit(":", 1)[0] if host else "")
        if deployment is None:
            raise NotFound(f"No environment is served at {host or 'this address'}.")
        route = self._route(request, deployment)
        if request.method == "OPTIONS":
            return Answer(204, list(CORS_HEADERS))
        total = self.config.max_request_bytes
        declared = header(raw_headers, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) + header_bytes > total:
            raise _too_large(total)
        body = await _read_body(receive, total - header_bytes, total)
        if route.visibility == "protected":
            self._check_signature(deployment, request, host, body)
        if route.kind == "asset":
            served = await serve_asset(route.file, route.path, request.method, raw_headers)
            return Answer(served.status, served.headers, served.body, served.length)
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._start(deployment, route, request, host, body, partial(_settle, answer))
        return await answer

    def admit(
        self, request: Request, served_here: Callable[[str], bool] | None = None
    ) -> Ticket | None:
        """The fast lane's question, asked when the headers are in: is this a function call
        that needs nothing awaited but its worker (a deployment already looked up, a public or
        protected function, GET or POST, a body of known length within the limits)? Anything
        else (None) takes the ASGI path, which answers every case, errors included.
        ``served_here(host)``: whether the host (lower case, no port) is the gateway's."""
        if request.method != "GET" and request.method != "POST":
            return None
        config = self.config
        size = count = length = 0
        host = None
        # One pass, counting as _check_request_headers does (names are lower case here).
        for name, value in request.headers:
            size += len(name) + len(value) + 4
            count += 1
            if name == b"host":
                if host is not None:
                    return None  # two Host headers: the ASGI path's 400
                host = value
            elif name == b"content-length":
                if not value.isdigit():
                    return None
                length = int(value)
            elif name == b"cookie":
                count += value.count(b";")
            elif name == b"transfer-encoding":
                return None  # chunked: its size is known only once read
        if (
            size > config.max_header_bytes
            or count > config.max_header_count
            or length + size > config.max_request_bytes
        ):
            return None
        host_header = host.decode("latin-1") if host is not None else ""
        hostname = host_header.rsplit(":", 1)[0].lower()
        if served_here is not None and not served_here(hostname):
            return None
        deployment = self.source.cached(hostname)
        if deployment is None:
            return None
        route = deployment.route_for(request.path)
        if route is None or route.kind != "function" or route.visibility == "private":
            return None
        return Ticket(request, host_header, deployment, route, time.perf_counter())

    def begin(self, ticket: Ticket, body: bytes, respond: Respond) -> None:
        """Start an admitted request, its body read; ``respond`` gets its answer (now, for
        what fails before the function runs)."""
        request = ticket.request
        try:
            if ticket.route.visibility == "protected":
                self._check_signature(ticket.deployment, request, ticket.host, body)
            self._start(ticket.deployment, ticket.route, request, ticket.host, body, respond)
        except CallboxError as exc:
            respond(self._error(exc))
        except Exception:  # the guard, as on the ASGI path
            respond(_unexpected(request))

    def _route(self, request: Request, deployment: Deployment) -> Route:
        route = deployment.route_for(request.path)
        if route is None or route.visibility == "private":
            raise NotFound(f"The requested resource {request.path} was not found")
        allowed = METHODS[route.kind]
        method = request.method
        if method not in allowed:
            *others, last = allowed
            raise MethodNotAllowed(
                f"Method {method} is not supported; {route.kind}s answer "
                f"{', '.join(others)} and {last}.",
                allow=allowed,
            )
        return route

    def _check_request_headers(self, raw: list[tuple[bytes, bytes]]) -> int:
        size = header_bytes(raw)
        count = len(raw) + sum(
            value.count(b";") for name, value in raw if name.lower() == b"cookie"
        )
        if size > self.config.max_header_bytes or count > self.config.max_header_count:
            raise HeadersTooLarge("Request headers or cookies too long")
        return size

    def _check_signature(
        self, deployment: Deployment, request: Request, host: str, body: bytes
    ) -> None:
        if deployment.auth_token is None:
            if self.config.skip_signature_check:
                return
            raise Forbidden(
                "Unauthorized Request. Signature is missing or is invalid: this resource is "
                "protected and no AUTH_TOKEN is configured to check signatures."
            )
        raw = request.headers
        valid = signature.is_valid(
            auth_token=deployment.auth_token,
            url=f"{request.scheme}://{host}{request.target}",
            signature=header(raw, b"x-twilio-signature"),
            body=body,
            content_type=header(raw, b"content-type") or "",
        )
        if not valid:
            raise Forbidden("Unauthorized Request. Signature is missing or is invalid.")

    def _start(
        self,
        deployment: Deployment,
        route: Route,
        request: Request,
        host: str,
        body: bytes,
        respond: Respond,
    ) -> None:
        """Send the invocation to the build's pool; ``respond`` gets its answer (what fails
        is answered as an error). Raises CallboxError for what fails before it is sent."""
        try:
            event = build_event(query_string=request.query, headers=request.headers, body=body)
        except EventError as exc:
            raise BadRequest(str(exc)) from None
        service = deployment.service_key
        in_flight = self._in_flight.get(service, 0)
        if in_flight >= self.config.concurrency_limit:
            raise TooManyRequests(
                f"Too many concurrent invocations: the limit is {self.config.concurrency_limit} "
                "per service."
            )
        request_sid = f"RQ{_sids.getrandbits(128):032x}"
        bases = deployment.invocation_bases.get(route.path)
        if bases is None:
            bases = deployment.invocation_bases[route.path] = _bases(deployment, route)
        context = bases[0].copy()
        context["DOMAIN_NAME"] = _domain_name(deployment.domain, host)
        meta = bases[1].copy()
        meta["request_sid"] = request_sid
        meta["request_method"] = request.method
        meta["request_url"] = f"{request.scheme}://{host}{request.target}"
        try:
            pool = self.pools.pool_for(deployment)
            done = partial(self._replied, meta, service, respond)
            pool.submit(request_sid, route.path, context, event, meta, done)
        except CallboxError as exc:  # could not be sent
            self._failed(meta, exc)
            raise
        self._in_flight[service] = in_flight + 1

    def _replied(
        self, meta: dict[str, Any], service: str, respond: Respond, result: Reply | CallboxError
    ) -> None:
        self._in_flight[service] -= 1
        if isinstance(result, CallboxError):  # timed out, crashed, out of memory
            self._failed(meta, result)
            respond(self._error(result))
            return
        if result.logs:
            self.events.function_logs(meta, result.logs)
        try:
            answer = self._check_response(
                result.status, result.headers, result.body, result.oversize
            )
        except CallboxError as exc:
            self._failed(meta, exc)
            respond(self._error(exc))
            return
        answer.meta = meta
        if answer.status >= 500:  # the function's own error: its worker wrote the ERROR line
            self.events.invocation_failed(meta, FAILED_INVOCATION, _failure_text(answer))
        respond(answer)

    def _error(self, exc: CallboxError) -> Answer:
        answer = error_answer(exc)
        answer.meta = exc.meta
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
        checked: list[tuple[str, str]] = []
        header_size = 0
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                checked.append((name, value))
                header_size += len(name) + len(value) + 4
        headers = checked
        if status in (204, 304):
            body = b""
        size = oversize if oversize is not None else len(body)
        limit = self.config.max_response_bytes
        if size > limit:
            raise FunctionError(
                f"The function's response is {size} bytes; responses may be at most {_size(limit)}."
            )
        if (
            header_size > self.config.max_header_bytes
            or len(headers) > self.config.max_header_count
        ):
            raise HeadersTooLarge("Response headers or cookies too long")
        return Answer(status, headers, body)


def _bases(deployment: Deployment, route: Route) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every invocation of ``route`` starts its context and its log metadata from."""
    context = {
        "PATH": route.path,
        "DOMAIN_NAME": "",  # the Host of each request
        "SERVICE_SID": deployment.service_sid,
        "ENVIRONMENT_SID": deployment.environment_sid,
        **deployment.variables,
    }
    meta = {
        "path": route.path,
        "request_sid": "",
        "request_method": "",
        "request_url": "",
        "build": deployment.build_key,
        "function_sid": route.sid,
        **deployment.log_tags,
    }
    return context, meta


def _settle(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():  # else its request went away (a cancelled task)
        future.set_result(answer)


def _unexpected(request: Request) -> Answer:
    log.exception("Unexpected error while answering %s %s", request.method, request.path)
    return error_answer(FunctionError("An internal error occurred in the gateway."))


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


# Header pairs already checked and encoded (bounded: cleared when full).
_encoded: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _encode_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    """Headers as bytes, each checked: what a function sets must not break the response."""
    encoded = []
    for pair in answer.headers:
        known = _encoded.get(pair)  # most answers repeat a few headers: checked once each
        if known is not None:
            encoded.append(known)
            continue
        name, value = pair
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
            known = (name.encode("latin-1"), value.encode("latin-1"))
        except UnicodeEncodeError:
            raise FunctionError(
                f"The response header {name!r} has characters HTTP headers cannot carry "
                "(only ISO-8859-1 is allowed); encode the value, e.g. with urllib.parse.quote."
            ) from None
        encoded.append(known)
        if len(name) + len(value) <= 256:
            if len(_encoded) >= 1024:
                _encoded.clear()
            _encoded[pair] = known
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
