"""Logs: ``/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Logs`` — read-only, newest first.

Beyond Twilio, ``.../Logs/Stream`` is a live feed (server-sent events) for ``logs --tail`` and
the editor: it is an async endpoint of its own (``stream_route``), since a sync handler on a
thread cannot hold a response open.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from callbox.api import lookup
from callbox.api.endpoint import (
    API_CORS,
    Call,
    Reply,
    error_response,
    operation,
    prepare,
    unreachable,
)
from callbox.api.params import Param, read_args
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import SID_DIGITS, Shape, date, one_of, sid_of, string, url
from callbox.asgi import Receive, Scope, Send
from callbox.errors import BadRequest, CallboxError, InternalError
from callbox.store.db import UNREACHABLE, utcnow
from callbox.store.sids import (
    ACCOUNT,
    BUILD,
    DEPLOYMENT,
    ENVIRONMENT,
    LOG,
    REQUEST,
    RESOURCE,
    SERVICE,
    is_sid,
)
from callbox.store.tables import logs

if TYPE_CHECKING:
    from callbox.api.app import Api
    from callbox.logs.book import Subscription

PATH = "/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Logs"
STREAM_PATH = PATH + "/Stream"
DEFAULT_WINDOW = timedelta(hours=24)  # Twilio's StartDate default: a day before now
KEEP_ALIVE = 15.0  # seconds of silence before a comment line keeps proxies from timing out
MAX_REPLAY = 1000  # stored lines a reconnecting stream is sent at most (the newest ones)


LOG_JSON = Shape(
    "Log",
    sid=sid_of(LOG),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    environment_sid=sid_of(ENVIRONMENT),
    build_sid=sid_of(BUILD, nullable=True),
    deployment_sid=sid_of(DEPLOYMENT, nullable=True),
    function_sid=sid_of(RESOURCE, nullable=True),
    request_sid=sid_of(REQUEST, nullable=True),
    level=one_of("INFO", "WARN", "ERROR"),
    message=string(),
    date_created=date(),
    url=url(),
)
FUNCTION_SID = Param(
    "FunctionSid",
    pattern=f"{RESOURCE}{SID_DIGITS}",
    empty="absent",
    invalid="FunctionSid must be a Function SID (ZH followed by 32 hex digits); found {value!r}",
    description="Only the lines of this function.",
)
# The live stream's query parameters (its Last-Event-ID header is read by the stream itself).
STREAM_PARAMS = (
    FUNCTION_SID,
    Param(
        "Since",
        "date-time",
        empty="absent",
        description="First replay the stored lines newer than this.",
    ),
)


def render(call: Call, row: Any) -> dict[str, Any]:
    """A Log as JSON, from a database row or a live row dict."""
    item: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
    return {
        "sid": item["sid"],
        "account_sid": item["account_sid"],
        "service_sid": item["service_sid"],
        "environment_sid": item["environment_sid"],
        "build_sid": item["build_sid"],
        "deployment_sid": item["deployment_sid"],
        "function_sid": item["function_sid"],
        "request_sid": item["request_sid"],
        "level": item["level"],
        "message": item["message"],
        "date_created": timestamp(item["date_created"]),
        "url": call.url(
            f"/v1/Services/{item['service_sid']}/Environments/{item['environment_sid']}"
            f"/Logs/{item['sid']}"
        ),
    }


@operation(
    *PAGING,
    FUNCTION_SID,
    Param("StartDate", "date-time", empty="absent", description="Lines from this time on."),
    Param("EndDate", "date-time", empty="absent", description="Lines up to this time."),
    returns=LOG_JSON,
)
def list_logs(call: Call) -> Reply:
    """Lines of one environment, newest first, between StartDate (default: a day before now,
    or before EndDate when that is earlier) and EndDate (default: now), optionally of one
    function."""
    function_sid = call.args["FunctionSid"]
    now = utcnow()
    end = call.args["EndDate"] or now
    # Twilio's default is a day before now; before an EndDate in the past, a day before that.
    window_end = max(min(now, end), datetime.min + DEFAULT_WINDOW)
    start = call.args["StartDate"] or window_end - DEFAULT_WINDOW
    if start > end:
        raise BadRequest(
            f"StartDate must not be after EndDate; found StartDate {timestamp(start)} "
            f"and EndDate {timestamp(end)}"
        )
    # Filters the client sent go back as it sent them into the page urls.
    filters = [
        (name, value)
        for name in ("FunctionSid", "StartDate", "EndDate")
        if (value := call.query.text(name))
    ]
    with call.api.store.read() as conn:
        environment = lookup.environment(call, conn)
        query = sa.select(logs).where(
            logs.c.environment_sid == environment.sid,
            logs.c.account_sid == call.account_sid,
            logs.c.date_created >= start,
            logs.c.date_created <= end,
        )
        if function_sid:
            query = query.where(logs.c.function_sid == function_sid)
        body = page(
            call,
            conn,
            query,
            logs,
            key="logs",
            path=f"/v1/Services/{environment.service_sid}/Environments/{environment.sid}/Logs",
            render=lambda row: render(call, row),
            newest_first=True,
            filters=filters,
        )
    return Reply(200, body)


@operation(returns=LOG_JSON)
def fetch_log(call: Call) -> Reply:
    with call.api.store.read() as conn:
        environment = lookup.environment(call, conn)
        row = lookup.child(
            call,
            conn,
            logs,
            LOG,
            service_sid=environment.service_sid,
            environment_sid=environment.sid,
        )
    return Reply(200, render(call, row))


ROUTES = [
    (PATH, "GET", list_logs),
    (PATH + "/{Sid}", "GET", fetch_log),
]


# -- the live stream (server-sent events) -------------------------------------------------


def stream_route(api: Api) -> Route:
    """``GET .../Logs/Stream``: mount it before ``.../Logs/{Sid}``, which would take "Stream"."""

    async def stream(request: Request) -> Response:
        """Live lines as server-sent events; ``Since`` (ISO date) or ``Last-Event-ID`` (a Log
        SID) first replays stored lines newer than it, so a reconnecting client has no gap.
        ``FunctionSid`` keeps one function's lines."""
        try:
            call = await prepare(api, request)
            args = read_args(STREAM_PARAMS, call.query)
            function_sid, since = args["FunctionSid"], args["Since"]
            environment = await run_in_threadpool(_stream_environment, call)
            if api.logbook is None:
                raise InternalError("The live log stream is not running on this server.")
        except CallboxError as exc:
            return error_response(exc)
        except UNREACHABLE as exc:
            return error_response(unreachable(exc, request))
        # Subscribe before reading the backlog: a line written in between is in one or both.
        subscription = api.logbook.subscribe(environment.sid)
        events = _events(
            call,
            environment,
            subscription,
            since=since,
            last_event_id=request.headers.get("last-event-id"),
            function_sid=function_sid,
        )
        return EventStream(
            events,
            on_close=subscription.close,
            media_type="text/event-stream",
            headers={**dict(API_CORS), "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return Route(STREAM_PATH, stream, methods=["GET"])


class EventStream(StreamingResponse):
    """A streaming response that runs ``on_close`` however it ends (client gone included)."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None], **kw: Any):
        super().__init__(content, **kw)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def _stream_environment(call: Call) -> Any:
    with call.api.store.read() as conn:
        return lookup.environment(call, conn)


async def _events(
    call: Call,
    environment: Any,
    subscription: Subscription,
    *,
    since: datetime | None = None,
    last_event_id: str | None = None,
    function_sid: str | None = None,
) -> AsyncIterator[str]:
    """The event stream: a first comment (the subscription is live), the replayed backlog,
    then live lines, with a keep-alive comment after ``KEEP_ALIVE`` seconds of silence.

    Lines go out in the order they were recorded (``seq``), each once, with no gap: after a
    ``Last-Event-ID`` every stored line recorded after it is sent first, and when the live
    queue overflowed (a client reading slower than functions print) the lines it lost are read
    back from the database before the stream goes on."""
    owner = {"account_sid": environment.account_sid, "service_sid": environment.service_sid}
    last: int | None = None  # seq of the last line sent (or skipped by the filter)
    try:
        yield ": connected\n\n"
        if since is not None or last_event_id:
            mark = await run_in_threadpool(_seq_of, call, environment.sid, last_event_id)
            if mark is not None:
                rows = _catch_up(call, environment.sid, mark, function_sid)
            else:
                rows = _history(call, environment.sid, since, function_sid)
            async for row in rows:
                last = row.seq
                yield _event(render(call, row))
        dropped = 0
        while True:
            item = await subscription.get(KEEP_ALIVE)
            if subscription.dropped > dropped:
                dropped = subscription.dropped
                after = last if last is not None else (subscription.first_seq or 1) - 1
                async for row in _catch_up(call, environment.sid, after, function_sid):
                    last = row.seq
                    yield _event(render(call, row))
            if item is None:
                if subscription.closed:
                    return
                # A revoked key, a changed token or a deleted environment ends the stream,
                # as it would a new request (the client's reconnect then says why).
                if not await run_in_threadpool(_still_there, call):
                    return
                yield ": keep-alive\n\n"
                continue
            if last is not None and item["seq"] <= last:
                continue  # already sent from the database
            last = item["seq"]
            if function_sid and item["function_sid"] != function_sid:
                continue
            yield _event(render(call, {**item, **owner}))
    finally:
        subscription.close()


async def _catch_up(
    call: Call, environment_sid: str, after: int, function_sid: str | None
) -> AsyncIterator[Any]:
    """Every stored line recorded after ``after``, page by page, in recording order."""
    while True:
        rows = await run_in_threadpool(
            _backlog, call, environment_sid, after=after, function_sid=function_sid
        )
        for row in rows:
            yield row
        if len(rows) < MAX_REPLAY:
            return
        after = rows[-1].seq


async def _history(
    call: Call, environment_sid: str, since: datetime | None, function_sid: str | None
) -> AsyncIterator[Any]:
    """The newest ``MAX_REPLAY`` stored lines after ``since``, in recording order."""
    if since is None:
        return
    rows = await run_in_threadpool(
        _backlog, call, environment_sid, since=since, function_sid=function_sid
    )
    for row in rows:
        yield row


def _still_there(call: Call) -> bool:
    if not call.still_authorised():
        return False
    try:
        _stream_environment(call)
    except CallboxError:  # the environment (or its service) was deleted
        return False
    return True


def _event(body: dict[str, Any]) -> str:
    return f"id: {body['sid']}\nevent: log\ndata: {json.dumps(body)}\n\n"


def _seq_of(call: Call, environment_sid: str, sid: str | None) -> int | None:
    """Where the line ``sid`` stands in the recording order (None: unknown here)."""
    if not sid or not is_sid(sid, LOG):
        return None
    call.api.logbook.flush()
    with call.api.store.read() as conn:
        seq = conn.execute(
            sa.select(logs.c.seq).where(
                logs.c.sid == sid, logs.c.environment_sid == environment_sid
            )
        ).scalar()
    return int(seq) if seq is not None else None


def _backlog(
    call: Call,
    environment_sid: str,
    *,
    after: int | None = None,
    since: datetime | None = None,
    function_sid: str | None = None,
) -> list[Any]:
    """Stored lines in recording order: the first ``MAX_REPLAY`` recorded after ``after``
    (a continuation), else the newest ``MAX_REPLAY`` dated after ``since`` (recent history)."""
    call.api.logbook.flush()
    with call.api.store.read() as conn:
        query = sa.select(logs).where(logs.c.environment_sid == environment_sid)
        if function_sid:
            query = query.where(logs.c.function_sid == function_sid)
        if after is not None:
            query = query.where(logs.c.seq > after).order_by(logs.c.seq).limit(MAX_REPLAY)
            return list(conn.execute(query).all())
        if since is None:
            return []
        query = query.where(logs.c.date_created > since)
        newest = query.order_by(logs.c.date_created.desc(), logs.c.sid.desc()).limit(MAX_REPLAY)
        rows = list(conn.execute(newest).all())
    return sorted(rows, key=lambda row: row.seq or 0)
