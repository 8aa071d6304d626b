"""store/changes.py: the change feed every node reads to forget what it cached."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callbox.store import changes
from callbox.store.changes import Change
from callbox.store.db import Store, utcnow
from callbox.store.tables import changes as changes_table


def test_an_empty_feed_stands_at_zero(store: Store) -> None:
    with store.read() as conn:
        assert changes.latest(conn) == 0
        assert changes.since(conn, 0) == []


def test_changes_are_read_after_a_seq_oldest_first(store: Store) -> None:
    with store.begin() as conn:
        changes.record(conn, "deployment", "ZE1")
        changes.record(conn, "variables", "ZE2")
    with store.begin() as conn:
        changes.record(conn, "service", "ZS1")
    with store.read() as conn:
        found = changes.since(conn, 0)
        assert [(c.kind, c.sid) for c in found] == [
            ("deployment", "ZE1"),
            ("variables", "ZE2"),
            ("service", "ZS1"),
        ]
        assert all(isinstance(c, Change) and isinstance(c.seq, int) for c in found)
        assert [c.seq for c in found] == sorted({c.seq for c in found})  # increasing, unique
        assert changes.latest(conn) == found[-1].seq
        assert changes.since(conn, found[0].seq) == found[1:]
        assert changes.since(conn, found[-1].seq) == []
        assert changes.since(conn, found[-1].seq + 100) == []
        assert changes.since(conn, 0, limit=2) == found[:2]


def test_a_change_rolled_back_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.begin() as conn:
        changes.record(conn, "deployment", "ZE1")
        raise RuntimeError("the change failed")
    with store.read() as conn:
        assert changes.latest(conn) == 0


def age(store: Store, seqs: list[int], hours: float) -> None:
    with store.begin() as conn:
        conn.execute(
            changes_table.update()
            .where(changes_table.c.seq.in_(seqs))
            .values(date_created=utcnow() - timedelta(hours=hours))
        )


def test_purge_deletes_old_changes_and_keeps_recent_ones(store: Store) -> None:
    with store.begin() as conn:
        for sid in ["old1", "old2", "new"]:
            changes.record(conn, "variables", sid)
    with store.read() as conn:
        old1, old2, new = (c.seq for c in changes.since(conn, 0))
    age(store, [old1, old2], hours=2)
    with store.begin() as conn:
        assert changes.purge(conn, utcnow() - timedelta(hours=1)) == 2
    with store.read() as conn:
        assert [c.sid for c in changes.since(conn, 0)] == ["new"]


def test_purge_keeps_the_newest_change_however_old(store: Store) -> None:
    with store.begin() as conn:
        changes.record(conn, "deployment", "a")
        changes.record(conn, "deployment", "b")
    with store.read() as conn:
        newest = changes.latest(conn)
    age(store, [newest - 1, newest], hours=5)
    with store.begin() as conn:
        assert changes.purge(conn, utcnow()) == 1
        assert changes.purge(conn, utcnow()) == 0  # the newest stays
    with store.read() as conn:
        assert changes.latest(conn) == newest
    # And numbers go on from it: a node that read up to ``newest`` sees what comes next.
    with store.begin() as conn:
        changes.record(conn, "service", "c")
    with store.read() as conn:
        assert [(c.seq > newest, c.sid) for c in changes.since(conn, newest)] == [(True, "c")]


def test_purge_of_an_empty_feed_deletes_nothing(store: Store) -> None:
    with store.begin() as conn:
        assert changes.purge(conn, utcnow() + timedelta(days=1)) == 0


def test_on_postgresql_a_committed_change_notifies_and_a_rolled_back_one_does_not(
    store: Store,
) -> None:
    if not store.shared:
        pytest.skip("NOTIFY is PostgreSQL's (CALLBOX_TEST_DATABASE=postgresql)")
    import psycopg

    _, params = store.engine.dialect.create_connect_args(store.engine.url)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {changes.CHANNEL}")
        with pytest.raises(RuntimeError), store.begin() as conn:
            changes.record(conn, "variables", "ZE0")
            raise RuntimeError("rolled back")
        with store.begin() as conn:
            changes.record(conn, "deployment", "ZE1")
        heard = [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=1)]
        heard += [(n.channel, n.payload) for n in listener.notifies(timeout=0.2)]
    assert heard == [(changes.CHANNEL, "deployment")]
