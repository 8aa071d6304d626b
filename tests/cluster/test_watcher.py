"""cluster/watcher.py: changes handed on once and in order, chores kept, the database's absence
noticed once and its return too. ``tick`` is driven by hand where timing does not matter; the
thread is tested for what only it does (waking on NOTIFY, going down and coming back)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from callbox.cluster import watcher as watcher_module
from callbox.cluster.watcher import RESET, Chore, Watcher
from callbox.store import changes
from callbox.store.changes import Change
from callbox.store.db import Store, utcnow
from callbox.store.tables import changes as changes_table
from postgres import Cluster


class Heard:
    """What a watcher handed on: each call of on_changes, and how many on_logs."""

    def __init__(self) -> None:
        self.calls: list[list[Change]] = []
        self.logs = 0
        self.event = threading.Event()

    def changes(self, found: list[Change]) -> None:
        self.calls.append(list(found))
        self.event.set()

    def log(self) -> None:
        self.logs += 1

    def kinds(self) -> list[list[tuple[str, str]]]:
        return [[(c.kind, c.sid) for c in call] for call in self.calls]


def record(store: Store, *sids: str, kind: changes.Kind = "deployment") -> None:
    with store.begin() as conn:
        for sid in sids:
            changes.record(conn, kind, sid)


def until(condition: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds it took ``condition`` to hold (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "the condition never held"
        time.sleep(0.01)
    return time.monotonic() - started


class Clock:
    """The watcher's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(watcher_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


# --- changes ------------------------------------------------------------------------------


def test_only_changes_after_the_start_are_handed_on(store: Store) -> None:
    record(store, "ZE-before")
    heard = Heard()
    watcher = Watcher(store, heard.changes, listen=False)
    with store.read() as conn:
        watcher.cursor = changes.latest(conn)  # what start() does
    watcher.tick()
    assert heard.calls == []
    record(store, "ZE1")
    record(store, "ZE2", "ZE3", kind="variables")
    watcher.tick()
    assert heard.kinds() == [[("deployment", "ZE1"), ("variables", "ZE2"), ("variables", "ZE3")]]
    watcher.tick()
    watcher.tick()
    assert len(heard.calls) == 1  # handed on once
    record(store, "ZE4")
    watcher.tick()
    assert heard.kinds()[1:] == [[("deployment", "ZE4")]]
    assert watcher.cursor == heard.calls[-1][-1].seq


def test_a_watcher_that_never_read_the_feed_starts_with_a_reset(store: Store) -> None:
    # start() could not read the feed (the database was away): whatever happened meanwhile is
    # unknown, so everything cached is dropped, and only later changes count.
    record(store, "ZE1", "ZE2")
    heard = Heard()
    watcher = Watcher(store, heard.changes, listen=False)
    assert watcher.cursor is None
    watcher.tick()
    assert heard.calls == [[RESET]]
    record(store, "ZE3")
    watcher.tick()
    assert heard.kinds()[1:] == [[("deployment", "ZE3")]]


def test_a_feed_that_went_backwards_gives_a_reset(store: Store) -> None:
    # The database was restored from a backup, or replaced: the watcher had read further.
    record(store, "ZE1")
    heard = Heard()
    watcher = Watcher(store, heard.changes, listen=False)
    with store.read() as conn:
        latest = changes.latest(conn)
    watcher.cursor = latest + 50
    watcher.tick()
    assert heard.calls == [[RESET]]
    assert watcher.cursor == latest
    watcher.tick()
    assert len(heard.calls) == 1  # once
    record(store, "ZE2")
    watcher.tick()
    assert heard.kinds()[1:] == [[("deployment", "ZE2")]]


def test_changes_purged_before_they_were_read_give_a_reset(store: Store) -> None:
    # The node was away longer than changes are kept: what it missed is gone from the feed.
    record(store, "ZE1")
    heard = Heard()
    watcher = Watcher(store, heard.changes, listen=False)
    watcher.tick()  # RESET: it never read
    record(store, "ZE2", "ZE3", "ZE4")
    with store.begin() as conn:
        newest = changes.latest(conn)
        conn.execute(changes_table.delete().where(changes_table.c.seq < newest))
    watcher.tick()
    assert heard.calls[1:] == [[RESET]]  # not just ZE4: ZE2 and ZE3 touched other hosts
    assert watcher.cursor == newest
    record(store, "ZE5")
    watcher.tick()
    assert heard.kinds()[2:] == [[("deployment", "ZE5")]]


def test_an_emptied_feed_gives_a_reset(store: Store) -> None:
    record(store, "ZE1", "ZE2")
    heard = Heard()
    watcher = Watcher(store, heard.changes, listen=False)
    watcher.tick()  # RESET: it never read
    with store.begin() as conn:
        conn.execute(changes_table.delete())
    watcher.tick()
    assert heard.calls == [[RESET], [RESET]]
    assert watcher.cursor == 0


def test_on_logs_is_called_every_round(store: Store) -> None:
    heard = Heard()
    watcher = Watcher(store, heard.changes, on_logs=heard.log, listen=False)
    for _ in range(3):
        watcher.tick()
    assert heard.logs == 3


def test_a_failing_on_changes_does_not_lose_the_changes(store: Store) -> None:
    # on_changes drops caches; if it raised, the changes must come again, not be skipped.
    record(store, "ZE0")
    heard = Heard()
    failing = [True]

    def on_changes(found: list[Change]) -> None:
        if failing[0]:
            failing[0] = False
            raise RuntimeError("a bug in on_changes")
        heard.changes(found)

    watcher = Watcher(store, on_changes, listen=False)
    with store.read() as conn:
        watcher.cursor = changes.latest(conn)
    record(store, "ZE1")
    with pytest.raises(RuntimeError):
        watcher.tick()
    watcher.tick()
    assert heard.kinds() == [[("deployment", "ZE1")]]


def test_a_failing_round_is_logged_as_such_and_the_changes_come_again(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()
    failures = [1]

    def on_changes(found: list[Change]) -> None:
        if failures:
            failures.pop()
            raise RuntimeError("a bug in on_changes")
        heard.changes(found)

    watcher = Watcher(store, on_changes, interval=0.05, listen=False)
    caplog.set_level(logging.WARNING, logger="callbox.cluster")
    watcher.start()
    try:
        record(store, "ZE1")
        assert heard.event.wait(5)
    finally:
        watcher.close()
    assert heard.kinds() == [[("deployment", "ZE1")]]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["A round of the watcher failed; it runs again in 0.1 s."]
    assert caplog.records[0].exc_info is not None  # with its traceback
    assert not watcher.down  # the database was there all along


# --- chores -------------------------------------------------------------------------------


def test_chores_run_when_due(store: Store, clock: Clock) -> None:
    ran: list[str] = []
    watcher = Watcher(
        store,
        Heard().changes,
        chores=[
            Chore("often", 1.0, lambda: ran.append("often")),
            Chore("rarely", 10.0, lambda: ran.append("rarely")),
        ],
        listen=False,
    )
    watcher.tick()
    assert ran == ["often", "rarely"]  # both due at the start
    clock.now += 0.5
    watcher.tick()
    assert ran == ["often", "rarely"]
    clock.now += 0.5
    watcher.tick()
    assert ran[2:] == ["often"]
    clock.now += 9.0
    watcher.tick()
    assert ran[3:] == ["often", "rarely"]


def test_a_failing_chore_is_logged_and_retried(
    store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[float] = []
    others: list[float] = []

    def claim() -> None:
        attempts.append(clock.now)
        if len(attempts) == 1:
            raise ValueError("no queue")

    watcher = Watcher(
        store,
        Heard().changes,
        chores=[Chore("claim builds", 2.0, claim), Chore("other", 2.0, lambda: others.append(1))],
        listen=False,
    )
    with caplog.at_level(logging.ERROR, logger="callbox.cluster"):
        watcher.tick()  # does not raise
    failures = [r for r in caplog.records if "claim builds" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].getMessage() == "The chore 'claim builds' failed; it runs again later."
    assert failures[0].exc_info is not None and "no queue" in str(failures[0].exc_info[1])
    assert others == [1]  # the next chore still ran
    assert not watcher.down
    clock.now += 1.0
    watcher.tick()
    assert len(attempts) == 1  # not before its time
    clock.now += 1.0
    watcher.tick()
    assert len(attempts) == 2  # retried, and succeeded
    assert len([r for r in caplog.records if "claim builds" in r.getMessage()]) == 1


def test_a_chore_that_cannot_reach_the_database_fails_the_round(store: Store, clock: Clock) -> None:
    # The thread catches it and marks the database as away (not logged as a chore's bug).
    def heartbeat() -> None:
        raise sa.exc.OperationalError("UPDATE nodes", {}, Exception("connection refused"))

    watcher = Watcher(store, Heard().changes, chores=[Chore("heartbeat", 2.0, heartbeat)])
    with pytest.raises(sa.exc.OperationalError):
        watcher.tick()


def test_old_changes_are_purged_by_a_chore(store: Store, clock: Clock) -> None:
    record(store, "ZE1", "ZE2", "ZE3")
    with store.begin() as conn:
        conn.execute(changes_table.update().values(date_created=utcnow() - timedelta(hours=2)))
    watcher = Watcher(store, Heard().changes, listen=False)
    watcher.tick()
    with store.read() as conn:
        assert [c.sid for c in changes.since(conn, 0)] == ["ZE3"]  # the newest is kept


# --- the thread ---------------------------------------------------------------------------


def test_the_thread_polls_without_notifications(store: Store) -> None:
    heard = Heard()
    watcher = Watcher(store, heard.changes, interval=0.05, listen=False)
    watcher.start()
    try:
        record(store, "ZE1")
        assert heard.event.wait(5)
        assert heard.kinds() == [[("deployment", "ZE1")]]  # nothing from before the start
    finally:
        watcher.close()
    assert watcher._thread is not None and not watcher._thread.is_alive()


# --- PostgreSQL: NOTIFY, and the database going away --------------------------------------


@pytest.fixture
def shared(own_postgres: Cluster, tmp_path: Path) -> Iterator[Store]:
    """A store on this module's own PostgreSQL server (which tests may halt)."""
    opened = Store.open(tmp_path / "data", own_postgres.database())
    yield opened
    opened.close()


def listening(store: Store) -> bool:
    """Whether a watcher's connection LISTENs (its last statement was the last LISTEN)."""
    with store.read() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = 'LISTEN callbox_logs'"
                )
            ).scalar()
        )


def test_a_notification_wakes_the_watcher_before_its_poll(shared: Store) -> None:
    heard = Heard()
    logs = threading.Event()
    watcher = Watcher(shared, heard.changes, on_logs=logs.set, interval=10.0)
    watcher.start()
    try:
        until(lambda: listening(shared))
        logs.clear()  # the round at the start
        started = time.monotonic()
        record(shared, "ZE1")
        assert heard.event.wait(5)
        assert time.monotonic() - started < 2.0  # not the 10 s poll
        assert heard.kinds() == [[("deployment", "ZE1")]]
        # A batch of log lines (logs/book.py notifies callbox_logs) wakes it too.
        logs.clear()
        started = time.monotonic()
        with shared.begin() as conn:
            shared.notify(conn, "callbox_logs")
        assert logs.wait(5)
        assert time.monotonic() - started < 2.0
    finally:
        with shared.begin() as conn:  # wake it, so that close() need not wait for the poll
            shared.notify(conn, "callbox_logs")
        watcher.close()


def test_the_database_going_away_is_noticed_once_and_its_return_too(
    own_postgres: Cluster, shared: Store, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()
    watcher = Watcher(shared, heard.changes, interval=0.1)
    caplog.set_level(logging.WARNING, logger="callbox.cluster")
    watcher.start()
    try:
        until(lambda: listening(shared))
        own_postgres.checkpoint()  # (or the schema just made may be lost)
        own_postgres.halt()
        try:
            until(lambda: watcher.down)
            time.sleep(1.0)  # ten more polls, all failing
            away = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
            assert len(away) == 1, [r.getMessage() for r in caplog.records]
            assert "tries again every 0.1 s" in away[0].getMessage()
            assert watcher.down
        finally:
            own_postgres.resume()
        until(lambda: not watcher.down, timeout=15)
        back = [r for r in caplog.records if r.getMessage() == "The database is reachable again."]
        assert len(back) == 1
        assert heard.calls == []  # nothing changed meanwhile: nothing to drop
        until(lambda: listening(shared), timeout=15)  # it LISTENs again ...
        heard.event.clear()
        record(shared, "ZE1")
        assert heard.event.wait(5)  # ... and hears of changes
        assert heard.kinds() == [[("deployment", "ZE1")]]
    finally:
        watcher.close()
