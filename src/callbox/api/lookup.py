"""Finding the rows a URL names, within the caller's account: anything else is a 404."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from callbox.api.endpoint import Call
from callbox.errors import NotFound
from callbox.store.sids import ENVIRONMENT, SERVICE, is_sid
from callbox.store.tables import environments, services


def not_found(call: Call) -> NotFound:
    return NotFound(f"The requested resource {call.uri} was not found")


def service(call: Call, conn: sa.Connection, name: str = "ServiceSid") -> Any:
    """The service named by SID or unique name in the URL."""
    key = call.path[name]
    column = services.c.sid if is_sid(key, SERVICE) else services.c.unique_name
    row = conn.execute(
        sa.select(services).where(column == key, services.c.account_sid == call.account_sid)
    ).first()
    if row is None:
        raise not_found(call)
    return row


def child(
    call: Call, conn: sa.Connection, table: sa.Table, prefix: str, name: str = "Sid", **parent: str
) -> Any:
    """A row of ``table`` by its SID in the URL, belonging to ``parent`` (column=value)."""
    sid = call.path[name]
    if not is_sid(sid, prefix):
        raise not_found(call)
    query = sa.select(table).where(table.c.sid == sid, table.c.account_sid == call.account_sid)
    for column, value in parent.items():
        query = query.where(table.c[column] == value)
    row = conn.execute(query).first()
    if row is None:
        raise not_found(call)
    return row


def environment(call: Call, conn: sa.Connection, name: str = "EnvironmentSid") -> Any:
    """The environment named in the URL, in the service named there."""
    owner = service(call, conn)
    return child(call, conn, environments, ENVIRONMENT, name=name, service_sid=owner.sid)
