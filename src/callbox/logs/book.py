"""The log book: every line a function writes becomes a Log row (``NO...``) and a live event;
every WARN or ERROR line and every failed invocation also becomes an alert (the Debugger,
``monitor/alerts.py``), written in the same transaction as the lines.

The gateway calls ``record()`` on the event loop after each invocation, so it only builds rows
and appends them to a list: it never touches the database. One writer thread inserts the queued
rows in batches (every ``BATCH_INTERVAL`` seconds or ``BATCH_ROWS`` rows, whichever comes first)
and deletes rows older than the retention period once an hour. If the database is away, the
rows wait (``MAX_PENDING`` at most) and are written when it is back.

Live streams read the database, so a stream on any node sees the lines of every node. Each
batch is numbered (``seq``) inside its transaction, under the writer lock every writing
transaction takes (store/db.py): numbers commit in their order, so a reader that has seen line N
has seen every line before it. ``poll_live()`` reads the lines after each subscription's last
one and hands them over, in that order; it runs after each batch this node writes and whenever
the cluster watcher is woken (``NOTIFY callbox_logs`` from another node's batch, or its poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from callbox.monitor import alerts as monitor_alerts
from callbox.store.db import Store, utcnow
from callbox.store.sids import LOG, new_sid
from callbox.store.tables import alerts, environments, logs
from callbox.worker.frames import LogLine

log = logging.getLogger("callbox.logs")

BATCH_INTERVAL = 0.1  # seconds a line may wait before it is written
BATCH_ROWS = 500
PURGE_EVERY = 3600.0  # seconds between two retention purges
# If the database stalls, lines pile up in memory; past this many the oldest are dropped.
MAX_PENDING = 100_000
# One runaway print must not fill the database: longer messages are cut here.
MAX_MESSAGE = 32 * 1024
BELIEVED_SECONDS = 300.0  # how old a line's own time may be (see _date)
SUBSCRIPTION_LIMIT = 1000  # live lines a slow client may lag behind before it loses the oldest
RETRY_DELAY = 1.0  # seconds between two attempts to write a batch while the database is away
CHANNEL = "callbox_logs"  # NOTIFY'd with each batch: live streams on other nodes read it
LIVE_PAGE = 1000  # lines poll_live reads at once per environment

_LEVELS = {
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "CRITICAL": "ERROR",
    "FATAL": "ERROR",
}
_META = ("account_sid", "service_sid", "build_sid", "deployment_sid", "function_sid", "request_sid")
_ONE_MICROSECOND = timedelta(microseconds=1)


class Subscription:
    """The live lines of one environment, oldest first, as rendered row dicts.

    Use it from the event loop that created it: ``async for row in subscription`` or
    ``await subscription.get(timeout)``. A reader that falls more than ``limit`` lines behind
    loses the oldest ones; ``dropped`` counts them. ``close()`` ends the iteration.
    """

    def __init__(self, book: LogBook, environment_sid: str, limit: int) -> None:
        self.environment_sid = environment_sid
        # The last line handed over (or before it started): poll_live() gives it those after.
        self.after = 0
        self.dropped = 0
        self.first_seq: int | None = None  # the recording order of the first line delivered
        self._book = book
        self._limit = limit
        self._items: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    @property
    def closed(self) -> bool:
        return self._closed

    def deliver(self, rows: list[dict[str, Any]]) -> None:
        """Queue ``rows`` for this reader, from any thread."""
        if threading.get_ident() == self._thread:
            self._put(rows)
            return
        # A closed loop raises RuntimeError: nobody is reading there any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._put, rows)

    def _put(self, rows: list[dict[str, Any]]) -> None:
        if self.first_seq is None and rows:
            self.first_seq = rows[0].get("seq")  # kept even if that line is dropped later
        if self._closed:
            return
        self._items.extend(rows)
        excess = len(self._items) - self._limit
        for _ in range(max(0, excess)):
            self._items.popleft()
        self.dropped += max(0, excess)
        self._ready.set()

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next line; None when ``timeout`` passes first or the subscription is closed."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return None
        return self._items.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Stop receiving lines (idempotent, from any thread); a waiting reader wakes up."""
        if self._closed:
            return
        self._closed = True
        self._book._unsubscribe(self)
        if threading.get_ident() == self._thread:
            self._ready.set()
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._ready.set)


class LogBook:
    """Function log lines: queued by ``record()``, written by one thread, streamed live.

    ``retention_days`` <= 0 keeps lines forever.
    """

    def __init__(
        self,
        store: Store,
        retention_days: float,
        alert_retention_days: float | None = None,
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.store = store
        self.retention_days = retention_days
        self.alert_retention_days = (
            retention_days if alert_retention_days is None else alert_retention_days
        )
        # Called by the writer thread with every batch of alerts once they are stored (the
        # Debugger's webhook); it must not block.
        self.on_alerts = on_alerts
        self.lost = 0  # lines dropped because the database fell too far behind
        self._cond = threading.Condition()
        self._pending: list[dict[str, Any]] = []
        self._pending_alerts: list[dict[str, Any]] = []
        self._first_pending_at = 0.0
        self._queued = 0  # lines ever queued; flush() waits until ``_written`` catches up
        self._written = 0
        self._flushing = 0
        self._failing = False  # the last write failed: the next waits RETRY_DELAY
        self._stopping = False
        self._closed = False
        self._thread: threading.Thread | None = None
        # Replaced, never mutated, under the lock: record() reads it without taking the lock.
        self._subscribers: dict[str, tuple[Subscription, ...]] = {}
        self._sub_lock = threading.Lock()
        # Filled in by the writer thread only, for metas without account or service.
        self._owners: dict[str, tuple[str, str] | None] = {}
        # The newest line known to be committed (any node's): a new subscription starts there.
        self._known = self._last_seq()
        self._live_lock = threading.Lock()  # one poll_live at a time

    def _last_seq(self) -> int:
        with self.store.read() as conn:
            return _max_seq(conn)

    # -- the hot path ---------------------------------------------------------------------

    def record(self, meta: dict[str, Any], lines: list[LogLine]) -> None:
        """Queue one invocation's lines (live readers get them once they are written).

        Cheap and safe from any thread (the gateway calls it on the event loop): no database
        work happens here. A meta without ``environment_sid`` is ignored. The lines come from
        a worker, where user code runs: each field is checked here, off the gateway's path.
        """
        environment_sid = meta.get("environment_sid")
        if not environment_sid or not lines:
            return
        tags = {key: _sid_or_none(meta.get(key)) for key in _META}
        rows: list[dict[str, Any]] = []
        previous: datetime | None = None
        for line in lines:
            if not isinstance(line, dict):
                continue
            date = _date(line.get("time"))
            # Lines of one request keep the order they were written in, even on a coarse clock.
            if previous is not None and date <= previous:
                date = previous + _ONE_MICROSECOND
            previous = date
            rows.append(
                {
                    "sid": new_sid(LOG),
                    "environment_sid": environment_sid,
                    **tags,
                    "level": _level(line.get("level")),
                    "message": _message(line.get("message")),
                    "date_created": date,
                }
            )
        if not rows:
            return
        if not self._closed:
            flagged = [
                monitor_alerts.row(
                    meta,
                    "error" if r["level"] == "ERROR" else "warning",
                    monitor_alerts.LEVEL_CODES[r["level"]],
                    r["message"],
                    r["date_created"],
                )
                for r in rows
                if r["level"] in monitor_alerts.LEVEL_CODES
            ]
            self._enqueue(rows, flagged)

    def record_failure(self, meta: dict[str, Any], code: int, text: str) -> None:
        """Queue the alert of a failed invocation (its ERROR line came through ``record``)."""
        if not meta.get("environment_sid") or self._closed:
            return
        self._enqueue([], [monitor_alerts.row(meta, "error", code, text, utcnow())])

    def _enqueue(self, rows: list[dict[str, Any]], flagged: list[dict[str, Any]]) -> None:
        with self._cond:
            if not self._pending and not self._pending_alerts:
                self._first_pending_at = time.monotonic()
                self._cond.notify_all()
            elif len(self._pending) + len(rows) >= BATCH_ROWS:
                self._cond.notify_all()
            self._pending.extend(rows)
            if len(self._pending_alerts) < MAX_PENDING:
                self._pending_alerts.extend(flagged)
            self._queued += len(rows)
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                del self._pending[:excess]
                self.lost += excess
                self._written += excess  # nobody will write them: flush() must not wait

    # -- live readers ---------------------------------------------------------------------

    def subscribe(self, environment_sid: str, limit: int = SUBSCRIPTION_LIMIT) -> Subscription:
        """Lines of ``environment_sid`` written from now on, by any node. Call it on the event
        loop. (A stream reads what came before from the database, by ``seq``.)"""
        subscription = Subscription(self, environment_sid, limit)
        subscription.after = self._known
        with self._sub_lock:
            current = self._subscribers.get(environment_sid, ())
            self._subscribers = {**self._subscribers, environment_sid: (*current, subscription)}
        return subscription

    def subscriber_count(self) -> int:
        """Live streams open, over every environment."""
        return sum(len(subs) for subs in self._subscribers.values())

    def subscribers(self, environment_sid: str) -> int:
        return len(self._subscribers.get(environment_sid, ()))

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._sub_lock:
            key = subscription.environment_sid
            left = tuple(s for s in self._subscribers.get(key, ()) if s is not subscription)
            others = {k: v for k, v in self._subscribers.items() if k != key}
            self._subscribers = {**others, key: left} if left else others

    def poll_live(self) -> None:
        """Hand every subscription the lines written after its last one, in their order (any
        thread; the writer calls it after each batch, the cluster watcher when woken)."""
        with self._live_lock:
            subscribers = self._subscribers
            with self.store.read() as conn:
                self._known = max(self._known, _max_seq(conn))
                for environment_sid, subscriptions in subscribers.items():
                    after = min(s.after for s in subscriptions)
                    while True:
                        found = conn.execute(
                            sa.select(logs)
                            .where(logs.c.environment_sid == environment_sid, logs.c.seq > after)
                            .order_by(logs.c.seq)
                            .limit(LIVE_PAGE)
                        ).all()
                        if not found:
                            break
                        rows = [dict(row._mapping) for row in found]
                        for subscription in subscriptions:
                            mine = [row for row in rows if row["seq"] > subscription.after]
                            if mine:
                                subscription.after = mine[-1]["seq"]
                                subscription.deliver(mine)
                        after = rows[-1]["seq"]
                        if len(found) < LIVE_PAGE:
                            break

    # -- the writer thread ----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (it also purges old lines, at once and then hourly)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="callbox-logbook", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every line queued so far is in the database."""
        if self._thread is None or not self._thread.is_alive():
            self._write(self._take())  # no writer running: write them here
            return
        with self._cond:
            target = self._queued
            self._flushing += 1
            self._cond.notify_all()
            try:
                done = self._cond.wait_for(lambda: self._written >= target, timeout)
            finally:
                self._flushing -= 1
        if not done:
            log.warning("Log lines were not all written within %.1f seconds.", timeout)
        if self._pending_alerts:  # alerts queued without lines (failures): written now too
            self._write([], self._take_alerts())

    def close(self) -> None:
        """Write what is queued, stop the writer and end every live subscription."""
        if self._closed:
            return
        self.flush()
        with self._cond:
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._write(self._take(), self._take_alerts())  # anything recorded while stopping
        self.end_streams()

    def end_streams(self) -> None:
        """End every live subscription (the server is stopping: streams must not hold it)."""
        for subscriptions in list(self._subscribers.values()):
            for subscription in subscriptions:
                subscription.close()

    def purge(self, now: datetime | None = None) -> int:
        """Delete lines (and alerts) older than their retention periods; returns how many
        lines went."""
        now = now or utcnow()
        deleted = 0
        with self.store.begin() as conn:
            if self.retention_days > 0:
                cutoff = now - timedelta(days=self.retention_days)
                deleted = conn.execute(logs.delete().where(logs.c.date_created < cutoff)).rowcount
            if self.alert_retention_days > 0:
                cutoff = now - timedelta(days=self.alert_retention_days)
                monitor_alerts.purge(conn, cutoff)
        return deleted or 0

    def _run(self) -> None:
        next_purge = time.monotonic()
        while True:
            with self._cond:
                if self._failing and not self._stopping:
                    self._cond.wait(RETRY_DELAY)  # the database is away: do not hammer it
                while not self._stopping and not self._due(next_purge):
                    self._cond.wait(self._wait_time(next_purge))
                stopping = self._stopping
            self._write(self._take(), self._take_alerts(), keep=not stopping)
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_EVERY
                try:
                    purged = self.purge()
                except Exception:
                    log.exception("Purging old log lines failed; trying again in an hour.")
                else:
                    if purged:
                        log.info(
                            "Purged %d log lines older than %s days.", purged, self.retention_days
                        )
            if stopping:
                return

    def _due(self, next_purge: float) -> bool:
        # Called with the lock held.
        now = time.monotonic()
        if self._pending_alerts and now - self._first_pending_at >= BATCH_INTERVAL:
            return True
        if self._pending and (
            self._flushing
            or len(self._pending) >= BATCH_ROWS
            or now - self._first_pending_at >= BATCH_INTERVAL
        ):
            return True
        return now >= next_purge

    def _wait_time(self, next_purge: float) -> float:
        now = time.monotonic()
        until = next_purge - now
        if self._pending or self._pending_alerts:
            until = min(until, self._first_pending_at + BATCH_INTERVAL - now)
        return max(until, 0.001)

    def _take(self) -> list[dict[str, Any]]:
        with self._cond:
            rows, self._pending = self._pending, []
            return rows

    def _take_alerts(self) -> list[dict[str, Any]]:
        with self._cond:
            rows, self._pending_alerts = self._pending_alerts, []
            return rows

    def _write(
        self,
        rows: list[dict[str, Any]],
        flagged: list[dict[str, Any]] | None = None,
        *,
        keep: bool = False,
    ) -> None:
        """Write one batch. If that fails and ``keep``, the rows wait for the next attempt
        (the database may be restarting); otherwise they are lost, and said so."""
        if not rows and not flagged:
            return
        stored_alerts: list[dict[str, Any]] = []
        last = 0
        try:
            with self.store.begin() as conn:
                stored = self._complete(conn, rows)
                # Numbered under the writer lock: numbers commit in their order, every node's.
                last = _max_seq(conn)
                stored = [{**row, "seq": last + n} for n, row in enumerate(stored, 1)]
                last += len(stored)
                for start in range(0, len(stored), BATCH_ROWS):
                    conn.execute(logs.insert(), stored[start : start + BATCH_ROWS])
                stored_alerts = self._complete(conn, flagged or [])
                if stored_alerts:
                    conn.execute(alerts.insert(), stored_alerts)
                if stored:
                    self.store.notify(conn, CHANNEL)
        except Exception as exc:
            stored_alerts = []
            if keep and not self._closed:
                if not self._failing:
                    log.warning(
                        "Writing %d log lines failed (%s); they wait for the database.",
                        len(rows),
                        type(exc).__name__,
                    )
                self._requeue(rows, flagged or [])
                return
            log.exception("Writing %d log lines failed; they are lost.", len(rows))
            with self._cond:
                self._written += len(rows)
                self._cond.notify_all()
        else:
            if self._failing:
                log.info("The log lines that waited for the database are written.")
            with self._cond:
                self._failing = False
                self._written += len(rows)
                self._cond.notify_all()
            self._known = max(self._known, last)
            if rows and self._subscribers:
                try:
                    self.poll_live()
                except Exception:
                    log.exception("Handing log lines to live streams failed.")
        if stored_alerts and self.on_alerts is not None:
            try:
                self.on_alerts(stored_alerts)
            except Exception:
                log.exception(
                    "Handing %d alerts to the Debugger's webhook failed.", len(stored_alerts)
                )

    def _requeue(self, rows: list[dict[str, Any]], flagged: list[dict[str, Any]]) -> None:
        with self._cond:
            self._failing = True
            self._pending[:0] = rows
            self._pending_alerts[:0] = flagged
            if not self._first_pending_at:
                self._first_pending_at = time.monotonic()
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                del self._pending[:excess]
                self.lost += excess
                self._written += excess
            del self._pending_alerts[MAX_PENDING:]
            self._cond.notify_all()

    def _complete(
        self, conn: sa.Connection, rows: Iterable[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Rows ready to insert: account and service taken from the environment when missing."""
        stored = []
        for row in rows:
            if row["account_sid"] and row["service_sid"]:
                stored.append(row)
                continue
            owner = self._owner(conn, row["environment_sid"])
            if owner is None:
                continue  # the environment is gone, and its logs with it
            stored.append({**row, "account_sid": owner[0], "service_sid": owner[1]})
        return stored

    def _owner(self, conn: sa.Connection, environment_sid: str) -> tuple[str, str] | None:
        if environment_sid not in self._owners:
            query = sa.select(environments.c.account_sid, environments.c.service_sid).where(
                environments.c.sid == environment_sid
            )
            found = conn.execute(query).first()
            self._owners[environment_sid] = None if found is None else (found[0], found[1])
        return self._owners[environment_sid]


def _max_seq(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(logs.c.seq))).scalar() or 0)


def _level(raw: Any) -> str:
    return _LEVELS.get(raw.strip().upper(), "INFO") if isinstance(raw, str) else "INFO"


def _message(raw: Any) -> str:
    text = raw if isinstance(raw, str) else "" if raw is None else str(raw)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f" ... [{len(text) - MAX_MESSAGE} characters cut]"
    return text


def _date(raw: Any) -> datetime:
    """A line's time comes from the worker, i.e. from code a function can patch: it is believed
    only within BELIEVED_SECONDS before now (an invocation's whole life), never in the future."""
    now = utcnow()
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        try:
            value = datetime.fromtimestamp(raw, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return now
        if now - timedelta(seconds=BELIEVED_SECONDS) <= value <= now:
            return value
    return now


def _sid_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
