"""The log book: lines queued on the hot path, written by one thread, purged, streamed live."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa

from callbox.logs import book as book_module
from callbox.logs.book import LogBook
from callbox.store.db import Store, utcnow
from callbox.store.sids import ACCOUNT, ENVIRONMENT, REQUEST, RESOURCE, SERVICE, is_sid, new_sid
from callbox.store.tables import environments, logs

pytestmark = pytest.mark.usefixtures("believe_old_times")


@pytest.fixture
def book(logbook: LogBook) -> LogBook:
    return logbook


def meta(**overrides: Any) -> dict[str, Any]:
    values = {
        "account_sid": new_sid(ACCOUNT),
        "service_sid": new_sid(SERVICE),
        "environment_sid": new_sid(ENVIRONMENT),
        "build_sid": "ZB" + "0" * 32,
        "deployment_sid": "ZD" + "0" * 32,
        "function_sid": new_sid(RESOURCE),
        "request_sid": new_sid(REQUEST),
        "path": "/hello",  # the gateway sends extra keys: ignored
    }
    values.update(overrides)
    return values


def rows(store: Store, environment_sid: str | None = None) -> list[Any]:
    query = sa.select(logs).order_by(logs.c.date_created, logs.c.sid)
    if environment_sid:
        query = query.where(logs.c.environment_sid == environment_sid)
    with store.begin() as conn:
        return list(conn.execute(query).all())


def test_record_then_flush_writes_rows(book: LogBook, store: Store) -> None:
    tags = meta()
    t = 1_760_000_000.123456
    book.record(tags, [{"level": "INFO", "message": "hello", "time": t}])
    book.record(tags, [{"level": "ERROR", "message": "boom", "time": t + 1}])
    book.flush()
    stored = rows(store)
    assert [r.message for r in stored] == ["hello", "boom"]
    first = stored[0]
    assert is_sid(first.sid, "NO")
    for key in (
        "account_sid",
        "service_sid",
        "environment_sid",
        "build_sid",
        "deployment_sid",
        "function_sid",
        "request_sid",
    ):
        assert getattr(first, key) == tags[key], key
    assert first.level == "INFO" and stored[1].level == "ERROR"
    # Naive UTC, microseconds kept.
    assert first.date_created == datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
    assert first.date_created.microsecond == 123456


def test_levels_are_normalised(book: LogBook, store: Store) -> None:
    given = ["info", "warning", "WARN", "warn", "error", "ERROR", "critical", "debug", None, 5]
    expected = ["INFO", "WARN", "WARN", "WARN", "ERROR", "ERROR", "ERROR", "INFO", "INFO", "INFO"]
    book.record(meta(), [{"level": level, "message": str(i)} for i, level in enumerate(given)])
    book.flush()
    assert [r.level for r in rows(store)] == expected


def test_lines_of_one_request_keep_their_order(book: LogBook, store: Store) -> None:
    t = 1_760_000_000.5
    # Same time three times, then a clock step backwards: order stays as written.
    lines = [{"message": m, "time": t} for m in "abc"] + [{"message": "d", "time": t - 5}]
    book.record(meta(), lines)
    book.flush()
    stored = rows(store)
    assert [r.message for r in stored] == ["a", "b", "c", "d"]
    dates = [r.date_created for r in stored]
    assert all(later - earlier == timedelta(microseconds=1) for earlier, later in pairwise(dates))


def test_missing_or_bad_time_means_now(book: LogBook, store: Store) -> None:
    before = utcnow()
    book.record(meta(), [{"message": "no time"}, {"message": "bad", "time": "yesterday"}])
    book.record(meta(), [{"message": "nan", "time": float("nan")}, {"message": "x", "time": 1e300}])
    book.flush()
    after = utcnow() + timedelta(microseconds=10)
    assert all(before <= r.date_created <= after for r in rows(store))
    assert len(rows(store)) == 4


def test_log_dates_come_from_the_server_clock(
    book: LogBook, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: a function could date its lines 9999-12-31, hiding them from default
    # queries and from the retention purge. Here the real window, not this module's wide one.
    monkeypatch.setattr(book_module, "BELIEVED_SECONDS", 300.0)
    before, now = utcnow(), time.time()
    book.record(meta(), [{"message": "future", "time": 253402300000.0}])
    book.record(meta(), [{"message": "an hour ago", "time": now - 3600}])
    book.record(meta(), [{"message": "tomorrow", "time": now + 86400}])
    book.record(meta(), [{"message": "a minute ago", "time": now - 60}])
    book.flush()
    after = utcnow() + timedelta(microseconds=10)
    dates = {r.message: r.date_created for r in rows(store)}
    minute_ago = datetime.fromtimestamp(now - 60, UTC).replace(tzinfo=None)
    assert abs(dates.pop("a minute ago") - minute_ago) < timedelta(milliseconds=1)
    assert all(before <= date <= after for date in dates.values()), dates
    assert len(dates) == 3


def test_meta_without_environment_is_ignored(book: LogBook, store: Store) -> None:
    book.record(meta(environment_sid=None), [{"message": "lost"}])
    tags = meta()
    del tags["environment_sid"]
    book.record(tags, [{"message": "lost"}])
    book.record(meta(), [])
    book.record(meta(), ["not a dict"])  # type: ignore[list-item]
    book.flush()
    assert rows(store) == []


def test_messages_are_text_and_cut_when_huge(book: LogBook, store: Store) -> None:
    huge = "x" * (book_module.MAX_MESSAGE + 10)
    book.record(meta(), [{"message": huge}, {"message": 42}, {}])
    book.flush()
    cut, number, empty = (r.message for r in rows(store))
    assert cut.startswith("x" * book_module.MAX_MESSAGE) and cut.endswith("[10 characters cut]")
    assert number == "42" and empty == ""


def test_missing_account_and_service_come_from_the_environment(book: LogBook, store: Store) -> None:
    account, service, environment = new_sid(ACCOUNT), new_sid(SERVICE), new_sid(ENVIRONMENT)
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            environments.insert().values(
                sid=environment,
                account_sid=account,
                service_sid=service,
                unique_name="production",
                domain_suffix=None,
                domain_name="app-1234.localhost",
                date_created=now,
                date_updated=now,
            )
        )
    book.record({"environment_sid": environment, "request_sid": None}, [{"message": "kept"}])
    book.record({"environment_sid": new_sid(ENVIRONMENT)}, [{"message": "gone"}])
    book.flush()
    (row,) = rows(store)
    assert (row.message, row.account_sid, row.service_sid) == ("kept", account, service)
    assert row.function_sid is None and row.request_sid is None


def test_the_writer_writes_without_being_asked(book: LogBook, store: Store) -> None:
    book.record(meta(), [{"message": "soon"}])
    deadline = time.monotonic() + 2
    while not rows(store) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r.message for r in rows(store)] == ["soon"]


def test_a_line_reaches_the_database_in_about_a_batch_interval(book: LogBook, store: Store) -> None:
    # The window README states for a killed server ("about 0.1 s"): kept honest here, with
    # room for a loaded machine.
    assert book_module.BATCH_INTERVAL == 0.1
    started = time.monotonic()
    book.record(meta(), [{"message": "timed"}])
    while not rows(store) and time.monotonic() - started < 5:
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    assert [r.message for r in rows(store)] == ["timed"]
    assert book_module.BATCH_INTERVAL * 0.9 <= elapsed < book_module.BATCH_INTERVAL + 1.0


def test_a_big_burst_is_written_whole(book: LogBook, store: Store) -> None:
    tags = meta()
    for i in range(1200):
        book.record(tags, [{"message": str(i), "time": 1_760_000_000 + i / 1000}])
    book.flush()
    assert [r.message for r in rows(store)] == [str(i) for i in range(1200)]


def test_flush_without_a_writer_thread_writes_inline(store: Store) -> None:
    unstarted = LogBook(store, 30)
    unstarted.record(meta(), [{"message": "inline"}])
    unstarted.flush()
    assert [r.message for r in rows(store)] == ["inline"]
    unstarted.record(meta(), [{"message": "at close"}])
    unstarted.close()
    assert len(rows(store)) == 2
    unstarted.record(meta(), [{"message": "after close"}])  # no error, not stored
    assert len(rows(store)) == 2


def test_close_writes_what_is_queued(store: Store) -> None:
    started = LogBook(store, 30)
    started.start()
    started.record(meta(), [{"message": str(i)} for i in range(10)])
    started.close()
    assert len(rows(store)) == 10
    started.close()  # twice is fine


def test_purge_deletes_lines_older_than_retention(store: Store) -> None:
    short = LogBook(store, 1)
    now = time.time()
    short.record(meta(), [{"message": "old", "time": now - 2 * 86400}])
    short.record(meta(), [{"message": "new", "time": now - 3600}])
    short.flush()
    assert short.purge() == 1
    assert [r.message for r in rows(store)] == ["new"]
    assert short.purge(utcnow() + timedelta(days=2)) == 1
    assert rows(store) == []


def test_fractional_retention_and_forever(store: Store) -> None:
    tiny = LogBook(store, 1 / 86400)  # one second
    tiny.record(meta(), [{"message": "old", "time": time.time() - 5}, {"message": "new"}])
    tiny.flush()
    assert tiny.purge() == 1
    forever = LogBook(store, 0)
    assert forever.purge(utcnow() + timedelta(days=10_000)) == 0
    assert len(rows(store)) == 1


def test_the_writer_purges_when_it_starts(store: Store) -> None:
    short = LogBook(store, 1)
    short.record(meta(), [{"message": "old", "time": time.time() - 2 * 86400}])
    short.flush()
    short.start()
    deadline = time.monotonic() + 2
    while rows(store) and time.monotonic() < deadline:
        time.sleep(0.02)
    short.close()
    assert rows(store) == []


async def test_subscribers_get_their_environments_lines(book: LogBook) -> None:
    tags = meta()
    mine = book.subscribe(tags["environment_sid"])
    theirs = book.subscribe(new_sid(ENVIRONMENT))
    assert book.subscribers(tags["environment_sid"]) == 1
    book.record(tags, [{"level": "warning", "message": "one"}, {"message": "two"}])
    first = await mine.get(1)
    second = await mine.get(1)
    assert first is not None and second is not None
    assert (first["message"], first["level"], second["message"]) == ("one", "WARN", "two")
    assert is_sid(first["sid"], "NO") and first["request_sid"] == tags["request_sid"]
    assert isinstance(first["date_created"], datetime)
    assert await theirs.get(0.05) is None  # timeout: nothing for another environment
    mine.close()
    theirs.close()
    assert book.subscribers(tags["environment_sid"]) == 0


async def test_lines_written_before_subscribing_are_not_delivered(book: LogBook) -> None:
    # A subscription starts after the newest line written (the stream reads older ones from
    # the database); a line still queued when it starts is delivered once written.
    tags = meta()
    book.record(tags, [{"message": "earlier"}])
    book.flush()
    book.record(tags, [{"message": "queued"}])
    subscription = book.subscribe(tags["environment_sid"])
    book.record(tags, [{"message": "later"}])
    got = [await subscription.get(1), await subscription.get(1)]
    assert [item["message"] for item in got if item is not None] == ["queued", "later"]
    assert await subscription.get(0.3) is None
    subscription.close()


async def test_a_lagging_subscriber_drops_the_oldest(book: LogBook) -> None:
    tags = meta()
    slow = book.subscribe(tags["environment_sid"], limit=3)
    book.record(tags, [{"message": str(i)} for i in range(5)])
    book.record(tags, [{"message": "5"}])
    await asyncio.to_thread(book.flush)
    # Lines reach subscriptions once written, through this event loop: a poll of our own is
    # deterministic (the writer's deliveries, queued before it returns, have run when it has).
    await asyncio.to_thread(book.poll_live)
    assert slow.dropped == 3
    got = [item["message"] for item in [await slow.get(1) for _ in range(3)] if item]
    assert got == ["3", "4", "5"]
    slow.close()


async def test_close_ends_iteration_and_wakes_a_waiting_reader(book: LogBook) -> None:
    tags = meta()
    subscription = book.subscribe(tags["environment_sid"])
    received: list[str] = []

    async def read() -> None:
        async for item in subscription:
            received.append(item["message"])

    reader = asyncio.create_task(read())
    book.record(tags, [{"message": "a"}])
    await asyncio.to_thread(book.flush)
    await asyncio.to_thread(book.poll_live)
    subscription.close()
    await asyncio.wait_for(reader, 1)
    assert received == ["a"] and subscription.closed
    assert book.subscribers(tags["environment_sid"]) == 0
    book.record(tags, [{"message": "after"}])  # a closed subscription takes nothing
    assert await subscription.get(0.01) is None


async def test_record_from_other_threads(book: LogBook, store: Store) -> None:
    tags = meta()
    subscription = book.subscribe(tags["environment_sid"], limit=10_000)
    per_thread, threads = 200, 8

    def work(n: int) -> None:
        for i in range(per_thread):
            book.record({**tags, "request_sid": new_sid(REQUEST)}, [{"message": f"{n}-{i}"}])

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    await asyncio.to_thread(lambda: [w.join() for w in workers])
    received = set()
    async with asyncio.timeout(2):
        while len(received) < per_thread * threads:
            item = await subscription.get(1)
            assert item is not None
            received.add(item["message"])
    assert subscription.dropped == 0
    book.flush()
    assert len(rows(store, tags["environment_sid"])) == per_thread * threads
    subscription.close()


async def test_close_from_another_thread_wakes_the_reader(book: LogBook) -> None:
    subscription = book.subscribe(new_sid(ENVIRONMENT))
    waiting = asyncio.create_task(subscription.get())
    await asyncio.sleep(0.01)
    await asyncio.to_thread(subscription.close)
    assert await asyncio.wait_for(waiting, 1) is None


async def test_closing_the_book_ends_subscriptions(store: Store) -> None:
    started = LogBook(store, 30)
    started.start()
    subscription = started.subscribe(new_sid(ENVIRONMENT))
    await asyncio.to_thread(started.close)
    assert await asyncio.wait_for(subscription.get(), 1) is None
