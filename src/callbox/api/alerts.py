"""The Debugger: ``/monitor/v1/Alerts`` in Twilio's Monitor v1 shape (so the official SDK's
``client.monitor.v1.alerts`` works with ``client.monitor.base_url = "http://HOST:PORT/monitor"``),
newest first, filtered by ``LogLevel``, ``StartDate`` and ``EndDate``.

Beyond Twilio (documented in docs/debugging.md):
- more filters: ``Search`` (words in the alert's text, any letter case), ``ErrorCode``,
  ``ServiceSid``, ``EnvironmentSid``, ``FunctionSid``, ``RequestSid``;
- ``/monitor/v1/Alerts/Grouped?By=url|error_code``: the alerts grouped by function URL or by
  error code, with a count and the last occurrence, most recent group first;
- ``/monitor/v1/Webhook``: the account's Debugger webhook (GET, POST ``Url``, DELETE).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import (
    SID_DIGITS,
    Shape,
    array,
    date,
    integer,
    one_of,
    sid_of,
    string,
    url,
)
from callbox.errors import BadRequest, NotFound
from callbox.monitor import webhook as webhooks
from callbox.store.sids import ACCOUNT, ALERT, ENVIRONMENT, REQUEST, RESOURCE, SERVICE, is_sid
from callbox.store.tables import alerts, debugger_webhooks

PATH = "/monitor/v1/Alerts"
WEBHOOK_PATH = "/monitor/v1/Webhook"
GROUP_KEYS = {"url": alerts.c.request_url, "error_code": alerts.c.error_code}
MAX_GROUPS = 1000

ALERT_JSON = Shape(
    "Alert",
    sid=sid_of(ALERT),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE, nullable=True),
    environment_sid=sid_of(ENVIRONMENT, nullable=True),
    function_sid=sid_of(RESOURCE, nullable=True),
    request_sid=sid_of(REQUEST, nullable=True),
    resource_sid=sid_of(RESOURCE, nullable=True),
    error_code=string(description="Twilio's error code, as text (82002, 82004, ...)."),
    log_level=one_of("error", "warning"),
    alert_text=string(),
    more_info=url(),
    request_method=string(nullable=True),
    request_url=string(nullable=True),
    request_variables=string(nullable=True),
    request_headers=string(nullable=True),
    response_body=string(nullable=True),
    response_headers=string(nullable=True),
    api_version=string(nullable=True),
    date_created=date(),
    date_generated=date(),
    date_updated=date(),
    url=url(),
)
_GROUP = Shape(
    "AlertGroup",
    key=string(nullable=True, description="The function URL or the error code."),
    count=integer(),
    log_level=one_of("error", "warning"),
    error_codes=string(description="The group's error codes, comma-separated."),
    last_alert_sid=sid_of(ALERT),
    last_alert_text=string(),
    last_occurrence=date(),
)
GROUPED_JSON = Shape(
    "AlertsGrouped",
    by=one_of(*GROUP_KEYS),
    groups=array(_GROUP),
    url=url(),
)
WEBHOOK_JSON = Shape(
    "DebuggerWebhook",
    account_sid=sid_of(ACCOUNT),
    url=string(nullable=True),
    date_created=string(nullable=True),
    date_updated=string(nullable=True),
)


def _sid_param(name: str, prefix: str, what: str) -> Param:
    return Param(
        name,
        pattern=f"{prefix}{SID_DIGITS}",
        empty="absent",
        invalid=f"{name} must be a {what} SID ({prefix} followed by 32 hex digits); "
        "found {value!r}",
        description=f"Beyond Twilio: only the alerts of this {what}.",
    )


FILTERS = (
    Param(
        "LogLevel",
        enum=("error", "warning", "notice", "debug"),
        empty="absent",
        description="Only the alerts of this level (callbox records error and warning).",
    ),
    Param("StartDate", "date-time", empty="absent", description="Alerts from this time on."),
    Param("EndDate", "date-time", empty="absent", description="Alerts up to this time."),
    Param(
        "Search",
        max_length=200,
        empty="absent",
        description="Beyond Twilio: only the alerts whose text holds these words.",
    ),
    Param(
        "ErrorCode",
        "integer",
        empty="absent",
        maximum=99999,
        description="Beyond Twilio: only alerts of this error code.",
    ),
    _sid_param("ServiceSid", SERVICE, "Service"),
    _sid_param("EnvironmentSid", ENVIRONMENT, "Environment"),
    _sid_param("FunctionSid", RESOURCE, "Function"),
    _sid_param("RequestSid", REQUEST, "request"),
)
_FILTER_COLUMNS = {
    "ServiceSid": alerts.c.service_sid,
    "EnvironmentSid": alerts.c.environment_sid,
    "FunctionSid": alerts.c.function_sid,
    "RequestSid": alerts.c.request_sid,
    "ErrorCode": alerts.c.error_code,
}


def render(call: Call, row: Any) -> dict[str, Any]:
    code = str(row.error_code)
    created = timestamp(row.date_created)
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "environment_sid": row.environment_sid,
        "function_sid": row.function_sid,
        "request_sid": row.request_sid,
        "resource_sid": row.function_sid,
        "error_code": code,
        "log_level": row.log_level,
        "alert_text": row.alert_text,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "request_method": row.request_method,
        "request_url": row.request_url,
        "request_variables": None,
        "request_headers": None,
        "response_body": None,
        "response_headers": None,
        "api_version": None,
        "date_created": created,
        "date_generated": created,
        "date_updated": created,
        "url": call.url(f"{PATH}/{row.sid}"),
    }


def _filtered(call: Call) -> sa.Select[Any]:
    """The account's alerts, narrowed by every filter the request sent."""
    start, end = call.args["StartDate"], call.args["EndDate"]
    if start is not None and end is not None and start > end:
        raise BadRequest(
            f"StartDate must not be after EndDate; found StartDate {timestamp(start)} "
            f"and EndDate {timestamp(end)}"
        )
    query = sa.select(alerts).where(alerts.c.account_sid == call.account_sid)
    if call.args["LogLevel"]:
        query = query.where(alerts.c.log_level == call.args["LogLevel"])
    if start is not None:
        query = query.where(alerts.c.date_created >= start)
    if end is not None:
        query = query.where(alerts.c.date_created <= end)
    for name, column in _FILTER_COLUMNS.items():
        if call.args[name] is not None:
            query = query.where(column == call.args[name])
    for word in (call.args["Search"] or "").split():
        escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(alerts.c.alert_text).like(f"%{escaped}%", escape="\\"))
    return query


@operation(*PAGING, *FILTERS, returns=ALERT_JSON)
def list_alerts(call: Call) -> Reply:
    """The account's alerts, newest first."""
    sent = [p.name for p in FILTERS]
    filters = [(name, value) for name in sent if (value := call.query.text(name))]
    with call.api.store.read() as conn:
        body = page(
            call,
            conn,
            _filtered(call),
            alerts,
            key="alerts",
            path=PATH,
            render=lambda row: render(call, row),
            newest_first=True,
            filters=filters,
        )
    return Reply(200, body)


@operation(returns=ALERT_JSON)
def fetch_alert(call: Call) -> Reply:
    sid = call.path["Sid"]
    if not is_sid(sid, ALERT):
        raise NotFound(f"The requested resource {PATH}/{sid} was not found")
    with call.api.store.read() as conn:
        row = conn.execute(
            sa.select(alerts).where(alerts.c.sid == sid, alerts.c.account_sid == call.account_sid)
        ).first()
    if row is None:
        raise NotFound(f"The requested resource {PATH}/{sid} was not found")
    return Reply(200, render(call, row))


@operation(
    Param(
        "By",
        required=True,
        enum=tuple(GROUP_KEYS),
        description="Group by the function's URL (url) or by the error code (error_code).",
    ),
    *FILTERS,
    returns=GROUPED_JSON,
)
def group_alerts(call: Call) -> Reply:
    """Alerts grouped by function URL or by error code: a count and the last one per group."""
    key = GROUP_KEYS[call.args["By"]]
    matching = _filtered(call).subquery()
    grouped_key = matching.c[key.name]
    last = sa.func.max(matching.c.date_created).label("last")
    summary = (
        sa.select(grouped_key.label("key"), sa.func.count().label("alerts"), last)
        .group_by(grouped_key)
        .order_by(last.desc())
        .limit(MAX_GROUPS)
    )
    groups = []
    with call.api.store.read() as conn:
        for group in conn.execute(summary).all():
            in_group = (
                matching.c[key.name].is_(None)
                if group.key is None
                else matching.c[key.name] == group.key
            )
            newest = conn.execute(
                sa.select(matching)
                .where(in_group)
                .order_by(matching.c.date_created.desc(), matching.c.sid.desc())
                .limit(1)
            ).one()
            codes = conn.execute(
                sa.select(matching.c.error_code).where(in_group).distinct()
            ).scalars()
            levels = set(
                conn.execute(sa.select(matching.c.log_level).where(in_group).distinct()).scalars()
            )
            groups.append(
                {
                    "key": None if group.key is None else str(group.key),
                    "count": int(group.alerts),
                    "log_level": "error" if "error" in levels else "warning",
                    "error_codes": ",".join(sorted(str(code) for code in codes)),
                    "last_alert_sid": newest.sid,
                    "last_alert_text": newest.alert_text,
                    "last_occurrence": timestamp(newest.date_created),
                }
            )
    return Reply(200, {"by": call.args["By"], "groups": groups, "url": call.url(f"{PATH}/Grouped")})


def _webhook_json(call: Call, row: Any) -> dict[str, Any]:
    return {
        "account_sid": call.account_sid,
        "url": row.url if row is not None else None,
        "date_created": timestamp(row.date_created) if row is not None else None,
        "date_updated": timestamp(row.date_updated) if row is not None else None,
    }


def _read_webhook(call: Call, conn: sa.Connection) -> Any:
    return conn.execute(
        sa.select(debugger_webhooks).where(debugger_webhooks.c.account_sid == call.account_sid)
    ).first()


@operation(returns=WEBHOOK_JSON)
def fetch_webhook(call: Call) -> Reply:
    """The account's Debugger webhook (``url`` null when there is none)."""
    with call.api.store.read() as conn:
        return Reply(200, _webhook_json(call, _read_webhook(call, conn)))


# An optional port, 0 to 65535 (the document says so with the URL's pattern).
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"


URL_PATTERN = r"https?://[A-Za-z0-9.-]+" + _PORT + r"(?:[/?#]\S*)?"


def _check_url(raw: str) -> str:
    if not re.fullmatch(URL_PATTERN, raw):
        raise BadRequest(
            "Url must be an http:// or https:// URL with a host name in ASCII (an international "
            f"name in its xn-- form); found {raw!r}"
        )
    return raw


@operation(
    Param(
        "Url",
        required=True,
        max_length=2048,
        pattern=URL_PATTERN,
        check=_check_url,
        description="Where alerts are posted (http or https).",
    ),
    returns=WEBHOOK_JSON,
)
def set_webhook(call: Call) -> Reply:
    """Post every new alert of this account to ``Url`` (signed with X-Twilio-Signature)."""
    with call.api.store.begin() as conn:
        webhooks.set_webhook(conn, call.account_sid, call.args["Url"])
        row = _read_webhook(call, conn)
    if call.api.webhooks is not None:
        call.api.webhooks.forget(call.account_sid)
    return Reply(200, _webhook_json(call, row))


@operation()
def delete_webhook(call: Call) -> Reply:
    with call.api.store.begin() as conn:
        webhooks.delete_webhook(conn, call.account_sid)
    if call.api.webhooks is not None:
        call.api.webhooks.forget(call.account_sid)
    return Reply(204)


ROUTES = [
    (PATH, "GET", list_alerts),
    (PATH + "/Grouped", "GET", group_alerts),
    (PATH + "/{Sid}", "GET", fetch_alert),
    (WEBHOOK_PATH, "GET", fetch_webhook),
    (WEBHOOK_PATH, "POST", set_webhook),
    (WEBHOOK_PATH, "DELETE", delete_webhook),
]
