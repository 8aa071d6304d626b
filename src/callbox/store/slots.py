"""Sandbox slots: a number per service and per account, never reused, from which its uid is
made (docs/security.md). Slot 0 belongs to ``callbox start``."""

from __future__ import annotations

import sqlalchemy as sa

from callbox.store.db import Store
from callbox.store.tables import sandbox_slots


def assign(conn: sa.Connection, owner_sid: str) -> int:
    """The slot of ``owner_sid``, given the next one (the database counts) if it has none."""
    found = _find(conn, owner_sid)
    if found is not None:
        return found
    conn.execute(sandbox_slots.insert().values(owner_sid=owner_sid))
    slot = _find(conn, owner_sid)
    assert slot is not None
    return slot


def _find(conn: sa.Connection, owner_sid: str) -> int | None:
    found = conn.execute(
        sa.select(sandbox_slots.c.slot).where(sandbox_slots.c.owner_sid == owner_sid)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def slot_of(store: Store, owner_sid: str) -> int:
    """The slot of ``owner_sid``, assigned now if it has none yet (two nodes racing: one
    inserts, the other finds it)."""
    with store.read() as conn:
        found = _find(conn, owner_sid)
    if found is not None:
        return found
    try:
        with store.begin() as conn:
            return assign(conn, owner_sid)
    except sa.exc.IntegrityError:
        with store.read() as conn:
            found = _find(conn, owner_sid)
        if found is None:
            raise
        return found
