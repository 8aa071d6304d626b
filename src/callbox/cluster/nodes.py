"""This node's name, and its heartbeat in the ``nodes`` table.

Every node writes ``seen_at`` (the database's clock) every ``HEARTBEAT`` seconds. A node not
seen for ``NODE_TIMEOUT`` seconds is dead: the builds it claimed fail (builds/builder.py). The
name is ``CALLBOX_NODE_NAME`` or, by default, one made on the first start and kept in
``<data>/node-name``, so a node restarted on its data folder is the same node and knows at once
that the builds it had claimed were interrupted.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from callbox import __version__
from callbox.store.db import Store
from callbox.store.tables import nodes

HEARTBEAT = 2.0  # seconds between two heartbeats
NODE_TIMEOUT = 10.0  # seconds without a heartbeat after which a node is dead
FORGET_AFTER = timedelta(days=7)  # a dead node's row is removed after this long


def node_name(configured: str, data: Path) -> str:
    """``configured`` if set, else the name kept in ``<data>/node-name`` (made on first use:
    the host name and a random suffix, so two nodes on one machine differ)."""
    if configured:
        return configured[:128]
    path = data / "node-name"
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text().strip()
        if kept:
            return kept[:128]
    name = f"{socket.gethostname()[:100]}-{secrets.token_hex(4)}"
    data.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n")
    return name


class Heartbeat:
    """Writes this node's row; ``beat()`` is called every ``HEARTBEAT`` seconds by the watcher."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.started_at: datetime | None = None

    def beat(self) -> None:
        try:
            with self.store.begin_unlocked() as conn:
                now = self.store.now(conn)
                if self.started_at is None:
                    self.started_at = now
                values = {"seen_at": now, "started_at": self.started_at, "version": __version__}
                updated = conn.execute(
                    nodes.update().where(nodes.c.name == self.name).values(**values)
                ).rowcount
                if not updated:
                    conn.execute(nodes.insert().values(name=self.name, **values))
                conn.execute(nodes.delete().where(nodes.c.seen_at < now - FORGET_AFTER))
        except sa.exc.IntegrityError:
            pass  # a process of the same name inserted the row meanwhile: the next beat updates

    def leave(self) -> None:
        """A clean stop: this node is gone at once (its builds were failed by its builder)."""
        with self.store.begin_unlocked() as conn:
            conn.execute(nodes.delete().where(nodes.c.name == self.name))


def heartbeat_interval(node_timeout: float) -> float:
    """Seconds between two heartbeats: often enough that two missed ones are not yet death."""
    return min(HEARTBEAT, node_timeout / 3)


def alive(conn: sa.Connection, now: datetime, timeout: float = NODE_TIMEOUT) -> set[str]:
    """Names of the nodes seen within ``timeout`` seconds of ``now`` (the database's clock)."""
    cutoff = now - timedelta(seconds=timeout)
    return set(conn.scalars(sa.select(nodes.c.name).where(nodes.c.seen_at >= cutoff)))
