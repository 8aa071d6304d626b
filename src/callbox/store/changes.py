"""The change feed: one row per change to what is served, so every node forgets what it cached.

An API handler calls ``record(conn, kind, sid)`` inside the transaction that makes the change;
the row commits with it (or not at all), in commit order: rows are numbered under the writer
lock every writing transaction holds (store/db.py), so a node that has read up to ``seq`` N has
seen every change before it. On PostgreSQL the commit also sends ``NOTIFY callbox_changes``,
which wakes the other nodes at once (cluster/watcher.py); a node that missed it finds the row
on its next poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

import sqlalchemy as sa

from callbox.store.db import utcnow
from callbox.store.tables import changes

CHANNEL = "callbox_changes"

# deployment: an environment serves another build; variables: an environment's variables;
# environment: one was deleted; service: one was changed or deleted (with its environments).
Kind = Literal["deployment", "variables", "environment", "service"]


class Change(NamedTuple):
    seq: int
    kind: str
    sid: str


def record(conn: sa.Connection, kind: Kind, sid: str) -> None:
    """Note a change in ``conn``'s transaction (and wake the other nodes when it commits)."""
    conn.execute(changes.insert().values(kind=kind, sid=sid, date_created=utcnow()))
    if conn.dialect.name != "sqlite":
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, kind)))


def latest(conn: sa.Connection) -> int:
    """The number of the newest change (0: none yet)."""
    return int(conn.execute(sa.select(sa.func.max(changes.c.seq))).scalar() or 0)


def since(conn: sa.Connection, seq: int, limit: int = 1000) -> list[Change]:
    """Changes after ``seq``, oldest first."""
    rows = conn.execute(
        sa.select(changes.c.seq, changes.c.kind, changes.c.sid)
        .where(changes.c.seq > seq)
        .order_by(changes.c.seq)
        .limit(limit)
    )
    return [Change(int(row.seq), row.kind, row.sid) for row in rows]


def purge(conn: sa.Connection, before: datetime) -> int:
    """Delete changes older than ``before``, always keeping the newest (nodes count on it)."""
    newest = latest(conn)
    result = conn.execute(
        changes.delete().where(changes.c.date_created < before, changes.c.seq < newest)
    )
    return result.rowcount or 0
