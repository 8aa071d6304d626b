"""cluster/nodes.py: a node's name, its heartbeat row, and which nodes are alive."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from callbox import __version__
from callbox.cluster.nodes import (
    FORGET_AFTER,
    HEARTBEAT,
    NODE_TIMEOUT,
    Heartbeat,
    alive,
    heartbeat_interval,
    node_name,
)
from callbox.store.db import Store, utcnow
from callbox.store.tables import nodes

# --- node_name ----------------------------------------------------------------------------


def test_a_configured_name_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    assert node_name("node-a", tmp_path / "data") == "node-a"
    assert not (tmp_path / "data").exists()


def test_a_configured_name_is_cut_to_the_column(tmp_path: Path) -> None:
    assert node_name("n" * 300, tmp_path) == "n" * 128


def test_a_name_is_made_once_and_kept_in_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"  # not there yet: made
    first = node_name("", data)
    assert first.startswith(socket.gethostname()[:100] + "-")
    assert (data / "node-name").read_text() == first + "\n"
    assert node_name("", data) == first  # a restart on the same folder: the same node
    assert node_name("", tmp_path / "other") != first  # another folder: another node


def test_a_kept_name_is_read_without_its_whitespace(tmp_path: Path) -> None:
    (tmp_path / "node-name").write_text("  edge-1 \n\n")
    assert node_name("", tmp_path) == "edge-1"


def test_a_configured_name_wins_over_the_kept_one(tmp_path: Path) -> None:
    (tmp_path / "node-name").write_text("kept\n")
    assert node_name("configured", tmp_path) == "configured"
    assert (tmp_path / "node-name").read_text() == "kept\n"


def test_an_empty_name_file_gets_a_new_name(tmp_path: Path) -> None:
    (tmp_path / "node-name").write_text(" \n")
    made = node_name("", tmp_path)
    assert made.strip() == made and made
    assert node_name("", tmp_path) == made


# --- the heartbeat --------------------------------------------------------------------------


def seen(store: Store, ages: dict[str, float]) -> datetime:
    """Rows for nodes last seen ``ages`` seconds ago by the store's clock; that clock's now."""
    with store.begin() as conn:
        now = store.now(conn)
        for name, age in ages.items():
            then = now - timedelta(seconds=age)
            row = {"name": name, "started_at": then, "seen_at": then, "version": "0"}
            conn.execute(nodes.insert().values(**row))
    return now


def rows(store: Store) -> dict[str, sa.Row]:
    with store.read() as conn:
        return {row.name: row for row in conn.execute(sa.select(nodes))}


def test_the_first_beat_inserts_the_row_and_later_ones_update_it(store: Store) -> None:
    heartbeat = Heartbeat(store, "node-a")
    heartbeat.beat()
    first = rows(store)["node-a"]
    assert first.version == __version__
    assert first.started_at == first.seen_at
    heartbeat.beat()
    found = rows(store)
    assert list(found) == ["node-a"]
    assert found["node-a"].started_at == first.started_at  # started once
    assert found["node-a"].seen_at >= first.seen_at


def test_a_node_restarted_under_its_name_takes_its_row_over(store: Store) -> None:
    Heartbeat(store, "node-a").beat()
    before = rows(store)["node-a"]
    again = Heartbeat(store, "node-a")  # a new process, no memory of the row
    again.beat()
    after = rows(store)["node-a"]
    assert again.started_at is not None and after.started_at == again.started_at
    assert after.started_at >= before.started_at
    assert len(rows(store)) == 1


def test_a_beat_forgets_nodes_long_dead_but_not_the_recently_dead(store: Store) -> None:
    long_ago = (FORGET_AFTER + timedelta(hours=1)).total_seconds()
    seen(store, {"long-gone": long_ago, "dead": 86400.0})
    Heartbeat(store, "node-a").beat()
    assert set(rows(store)) == {"node-a", "dead"}


def test_leave_removes_only_this_node(store: Store) -> None:
    a, b = Heartbeat(store, "node-a"), Heartbeat(store, "node-b")
    a.beat()
    b.beat()
    a.leave()
    assert set(rows(store)) == {"node-b"}
    a.leave()  # leaving twice (or without a row) is no error
    assert set(rows(store)) == {"node-b"}


# --- alive ----------------------------------------------------------------------------------


def test_alive_are_the_nodes_seen_within_the_timeout(store: Store) -> None:
    now = seen(store, {"fresh": 0.0, "late": 9.0, "dead": 11.0, "ahead": -3.0})
    with store.read() as conn:
        assert alive(conn, now) == {"fresh", "late", "ahead"}  # NODE_TIMEOUT: 10 s
        assert alive(conn, now, timeout=5) == {"fresh", "ahead"}
        assert alive(conn, now, timeout=60) == {"fresh", "late", "dead", "ahead"}
        assert alive(conn, now + timedelta(hours=1)) == set()


def test_a_node_that_just_beat_is_alive_by_the_database_clock(store: Store) -> None:
    Heartbeat(store, "node-a").beat()
    with store.read() as conn:
        assert alive(conn, store.now(conn)) == {"node-a"}
        assert alive(conn, store.now(conn) + timedelta(seconds=NODE_TIMEOUT + 1)) == set()


def test_the_store_clock_is_naive_utc(store: Store) -> None:
    with store.read() as conn:
        now = store.now(conn)
    assert now.tzinfo is None
    assert abs(now - utcnow()) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("timeout", "interval"), [(NODE_TIMEOUT, HEARTBEAT), (60.0, HEARTBEAT), (3.0, 1.0), (0.3, 0.1)]
)
def test_three_beats_fit_in_the_timeout(timeout: float, interval: float) -> None:
    assert heartbeat_interval(timeout) == pytest.approx(interval)
