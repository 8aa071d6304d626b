"""How a REST handler is called: authenticate, read and check parameters, run, render.

Handlers are plain functions ``(call) -> Reply`` run on a worker thread (the store is
synchronous SQL), so a slow query never stalls the gateway on the event loop. Each is declared
an ``Operation`` (``@operation(...)``): the parameters it takes and the JSON it answers with.
The parameters are checked here, before the handler runs, which finds them in ``call.args``;
openapi.py describes the same declaration. Every failure becomes Twilio's error body; an
unexpected one is logged with its trace and answers 500/20500.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from callbox.api.params import MultiMapping, Param, Params, read_args
from callbox.api.shapes import Shape
from callbox.errors import (
    BadRequest,
    CallboxError,
    Conflict,
    InternalError,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from callbox.store.db import UNREACHABLE
from callbox.store.sids import API_KEY, is_sid

if TYPE_CHECKING:
    from callbox.api.app import Api

log = logging.getLogger("callbox.api")

# Form fields per request: a build at its limits lists 2,050 assets and its functions.
MAX_FIELDS = 5000
API_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
    ("Access-Control-Expose-Headers", "ETag"),
]


@dataclass
class Call:
    """One API request, as a handler sees it."""

    api: Api
    account_sid: str
    path: dict[str, str]
    form: Params
    query: Params
    base: str  # scheme://host of the request: absolute urls point back at this server
    uri: str  # the request path without /v1, for "not found" messages
    files: dict[str, Any] = field(default_factory=dict)
    credentials: tuple[str, str] = ("", "")  # as sent: a long stream checks them again
    args: dict[str, Any] = field(default_factory=dict)  # the declared parameters, checked

    @property
    def via_key(self) -> bool:
        """Authenticated with an API key (SK...), not the account's own token."""
        return is_sid(self.credentials[0], API_KEY)

    def still_authorised(self) -> bool:
        return self.api.accounts.authenticate(*self.credentials) == self.account_sid

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Operation:
    """A handler with what it takes and what it answers: the one declaration that both the
    parameter checks (``endpoint``) and the OpenAPI document read."""

    handler: Callable[..., Reply]
    params: tuple[Param, ...] = ()  # form parameters of a POST, query parameters otherwise
    returns: Shape | None = None  # the resource's JSON (a list: a page of them)
    any_of: tuple[str, ...] = ()  # at least one of these parameters must be given ...
    any_of_message: str = ""  # ... or this is the error

    def __call__(self, *args: Any) -> Reply:
        return self.handler(*args)

    def bind(self, *args: Any, returns: Shape | None = None) -> Operation:
        """This operation with its first arguments given: one handler for two kinds."""
        handler = partial(self.handler, *args)
        return replace(self, handler=handler, returns=returns or self.returns)

    @property
    def function(self) -> Callable[..., Any]:
        """The function underneath (its docstring describes the operation)."""
        target: Any = self.handler
        while isinstance(target, partial):
            target = target.func
        return cast(Callable[..., Any], target)

    def read(self, source: Params) -> dict[str, Any]:
        args = read_args(self.params, source)
        if self.any_of and not any(args[name] for name in self.any_of):
            raise BadRequest(self.any_of_message)
        return args


def operation(
    *params: Param,
    returns: Shape | None = None,
    any_of: tuple[str, ...] = (),
    any_of_message: str = "",
) -> Callable[[Callable[..., Reply]], Operation]:
    """Declare a handler: ``@operation(Param(...), ..., returns=SHAPE)``."""

    def declare(handler: Callable[..., Reply]) -> Operation:
        return Operation(handler, params, returns, any_of, any_of_message)

    return declare


def declared(handler: Handler) -> Operation:
    """A route's handler as an Operation (one declared nothing takes nothing)."""
    target: Any = handler
    while isinstance(target, partial):
        target = target.func
    return target if isinstance(target, Operation) else Operation(handler)


def endpoint(
    api: Api, handler: Handler, *, max_body: int = 1024 * 1024
) -> Callable[[Request], Awaitable[Response]]:
    declaration = declared(handler)

    async def run(request: Request) -> Response:
        try:
            call = await prepare(api, request, max_body)
            call.args = declaration.read(call.form if request.method == "POST" else call.query)
            reply = await run_in_threadpool(handler, call)
        except CallboxError as exc:
            return error_response(exc)
        except sa.exc.IntegrityError:
            # Two requests raced for one name (both passed the check): the loser learns so.
            return error_response(
                Conflict("The request conflicts with a resource created at the same time.")
            )
        except UNREACHABLE as exc:
            return error_response(unreachable(exc, request))
        except Exception:
            log.exception("Unexpected error answering %s %s", request.method, request.url.path)
            return error_response(InternalError("An internal error occurred in callbox."))
        if reply.body is None:
            return Response(status_code=reply.status, headers=dict(API_CORS))
        return json_response(reply.status, reply.body)

    return run


def unreachable(exc: Exception, request: Request) -> ServiceUnavailable:
    """The database went away (or never answered): 503, and nothing was changed (a writing
    transaction that did not commit left nothing behind)."""
    log.warning(
        "%s %s: the database cannot be reached (%s).",
        request.method,
        request.url.path,
        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
    )
    return ServiceUnavailable(
        "The database is unreachable; nothing was changed. Try again in a few seconds.",
        retry_after=2,
    )


async def prepare(api: Api, request: Request, max_body: int = 0) -> Call:
    """Authenticate (on a thread: it may query the store), then read and parse the form."""
    credentials = basic_credentials(request.headers.get("authorization"))
    if any("\x00" in part for part in credentials):
        raise Unauthorized("Authenticate")  # no stored SID or token holds one
    account_sid = await run_in_threadpool(api.accounts.authenticate, *credentials)
    if account_sid is None:
        raise Unauthorized("Authenticate")
    form_values: Any = FormData()
    files: dict[str, Any] = {}
    if request.method == "POST":
        body = await _read_body(request, max_body)
        form_values = await _parse_form(request, body, max_body)
        files = {k: v for k, v in form_values.multi_items() if not isinstance(v, str)}
    # (Parameters are checked by their declarations, which refuse a NUL: params.py.)
    _refuse_nul(list(request.path_params.values()))
    path = request.url.path
    return Call(
        api=api,
        account_sid=account_sid,
        path={k: str(v) for k, v in request.path_params.items()},
        form=Params(form_values),
        query=Params(cast(MultiMapping, QueryParams(request.url.query)), "query string"),
        base=f"{request.url.scheme}://{request.headers.get('host', 'localhost')}",
        uri=path[3:] if path.startswith("/v1/") else path,
        files=files,
        credentials=credentials,
    )


def _refuse_nul(values: list[Any]) -> None:
    """No value callbox stores may hold a NUL character (PostgreSQL's text cannot)."""
    if any("\x00" in str(value) for value in values):
        raise BadRequest("A path segment contains a NUL character (\\x00); remove it.")


def basic_credentials(header: str | None) -> tuple[str, str]:
    """HTTP Basic: (account SID, auth token) or (API key SID, secret), as sent."""
    if not header or not header.lower().startswith("basic "):
        raise Unauthorized("Authenticate: HTTP Basic credentials are required.")
    try:
        # A header is read as ISO-8859-1: non-ASCII base64 is a ValueError, not a binascii.Error.
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unauthorized("Authenticate: the Authorization header is not valid Basic.") from None
    username, _, password = decoded.partition(":")
    return username, password


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The request body is larger than the limit of {limit} bytes."
                )
            chunks.append(chunk)
    except ClientDisconnect:  # gone (or cut off by the read deadline): nobody reads the answer
        raise BadRequest(
            "The client closed the connection before sending the whole body."
        ) from None
    return b"".join(chunks)


async def _parse_form(request: Request, body: bytes, limit: int) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body and content_type not in ("multipart/form-data",):
        return FormData()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        raise BadRequest(
            f"Unsupported Content-Type {content_type!r}: send application/x-www-form-urlencoded "
            "(or multipart/form-data for uploads)."
        )

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    if content_type == "":
        content_type = "application/x-www-form-urlencoded"
        request.scope["headers"] = [
            *request.scope["headers"],
            (b"content-type", content_type.encode()),
        ]
    try:
        return await Request(request.scope, replay).form(
            max_files=4, max_fields=MAX_FIELDS, max_part_size=limit
        )
    except Exception as exc:  # python-multipart / starlette parse errors: the client's fault
        raise BadRequest(f"The request body cannot be parsed as a form: {exc}") from None


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=dict(API_CORS),
    )


def error_response(exc: CallboxError) -> Response:
    headers = dict(API_CORS)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    elif exc.status == 429:
        headers["Retry-After"] = "1"
    return Response(
        exc.to_json(), status_code=exc.status, media_type="application/json", headers=headers
    )
