"""The Debugger's alerts: one per WARN or ERROR line a function writes and one per failed
invocation, kept ``alert_retention_days``, listed through Monitor v1's Alerts shape.

Codes (Twilio's error dictionary; docs/debugging.md):
    82002  a function invocation answered 5xx (error, exception, timeout, memory, crash,
           invalid or oversized response)
    82004  a function wrote a WARN line
    82005  a function wrote an ERROR line
    82008  a function's response headers or cookies were too long (431)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from callbox.store.sids import ALERT, new_sid
from callbox.store.tables import alerts

WARNING_LOG, ERROR_LOG = 82004, 82005
LEVEL_CODES = {"WARN": WARNING_LOG, "ERROR": ERROR_LOG}
Level = Literal["error", "warning"]
MAX_TEXT = 8 * 1024  # an alert quotes its line; the line itself is in the logs, whole
_TAGS = (
    "account_sid",
    "service_sid",
    "environment_sid",
    "build_sid",
    "deployment_sid",
    "function_sid",
    "request_sid",
)


def row(meta: dict[str, Any], level: Level, code: int, text: str, date: datetime) -> dict[str, Any]:
    """An alert row for ``meta``'s invocation (account and service may be filled in later)."""
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f" ... [{len(text) - MAX_TEXT} characters cut]"
    return {
        "sid": new_sid(ALERT),
        **{key: _sid(meta.get(key)) for key in _TAGS},
        "log_level": level,
        "error_code": code,
        "alert_text": text,
        "request_url": _text(meta.get("request_url")),
        "request_method": _text(meta.get("request_method")),
        "date_created": date,
    }


def purge(conn: sa.Connection, cutoff: datetime) -> int:
    result = conn.execute(alerts.delete().where(alerts.c.date_created < cutoff))
    return result.rowcount or 0


def _sid(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
