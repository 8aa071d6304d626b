"""The watcher: one thread per node that hears what other nodes did, and keeps the node's chores.

On PostgreSQL it holds a connection of its own that LISTENs on ``callbox_changes`` (a change to
what is served, store/changes.py) and ``callbox_logs`` (a batch of log lines, logs/book.py). A
notification wakes it at once; without one it wakes every ``POLL_INTERVAL`` seconds anyway and
looks for itself, so a notification lost with a broken connection delays a change by one poll
at most. Each wake-up it

- reads the changes after the last one it saw and hands them to ``on_changes`` (the node's
  Host cache is dropped, builds are prepared, workers of undeployed builds drain);
- calls ``on_logs`` (live streams read the lines written since their last one);
- runs the chores that are due (the heartbeat, failing the builds of dead nodes, claiming
  queued builds, purging old changes), each every so many seconds.

If the database is away, it says so once, keeps trying every poll, and says when it is back;
what the node serves meanwhile comes from its cache (hosting.py). On SQLite (one node) there
is nobody to LISTEN to: it polls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from callbox.store import changes
from callbox.store.changes import Change
from callbox.store.db import UNREACHABLE, Store, utcnow

log = logging.getLogger("callbox.cluster")

POLL_INTERVAL = 0.5  # seconds between two looks when no notification comes
CHANNELS = (changes.CHANNEL, "callbox_logs")
KEEP_CHANGES = timedelta(hours=1)  # nodes read changes within a poll; an hour is plenty
# A full reset: the change feed went backwards (the database was restored or replaced).
RESET = Change(0, "reset", "")


@dataclass
class Chore:
    name: str
    every: float  # seconds
    run: Callable[[], Any]
    due: float = 0.0  # monotonic time of its next run


class Watcher:
    def __init__(
        self,
        store: Store,
        on_changes: Callable[[list[Change]], None],
        on_logs: Callable[[], None] = lambda: None,
        chores: list[Chore] | None = None,
        interval: float = POLL_INTERVAL,
        listen: bool = True,
    ) -> None:
        self.store = store
        self.on_changes = on_changes
        self.on_logs = on_logs
        self.chores = [*(chores or []), Chore("purge changes", 3600.0, self._purge)]
        self.interval = interval
        self.listen = listen and store.shared and store.engine.dialect.driver == "psycopg"
        self.cursor: int | None = None  # the last change handled
        self.down = False  # the database could not be reached on the last attempt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None  # the LISTENing psycopg connection

    def start(self) -> None:
        """Read where the change feed stands (so that only later changes count), then start."""
        if self._thread is not None:
            return
        try:
            with self.store.read() as conn:
                self.cursor = changes.latest(conn)
        except UNREACHABLE:
            self.cursor = None  # read on the first wake-up the database answers
        self._thread = threading.Thread(target=self._run, name="callbox-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        self._disconnect()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wait()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except UNREACHABLE as exc:
                self._trouble(exc)
                self._disconnect()
                self._stop.wait(self.interval)
            except Exception:  # a bug in on_changes or on_logs: not the database's absence
                log.exception(
                    "A round of the watcher failed; it runs again in %.1f s.", self.interval
                )
                self._stop.wait(self.interval)
            else:
                if self.down:
                    self.down = False
                    log.warning("The database is reachable again.")

    def tick(self) -> None:
        """One round: changes, live logs, due chores (the thread calls it; tests may too)."""
        self._read_changes()
        self.on_logs()
        now = time.monotonic()
        for chore in self.chores:
            if now >= chore.due:
                chore.due = now + chore.every
                try:
                    chore.run()
                except UNREACHABLE:
                    raise
                except Exception:
                    log.exception("The chore %r failed; it runs again later.", chore.name)

    def _read_changes(self) -> None:
        with self.store.read() as conn:
            if self.cursor is None:
                found, cursor = [RESET], changes.latest(conn)  # whatever happened meanwhile
            else:
                found = changes.since(conn, self.cursor)
                cursor = found[-1].seq if found else self.cursor
                if not found and (latest := changes.latest(conn)) < self.cursor:
                    found, cursor = [RESET], latest
                elif found and found[0].seq > self.cursor + 1:
                    # Changes this node never read were purged (it was away longer than they
                    # are kept), or a transaction that took a number rolled back: which hosts
                    # they touched is unknown, so everything is read again.
                    found = [RESET]
        if found:
            self.on_changes(found)
        # Only once they were handed on: if on_changes raised, the next round hands them again.
        self.cursor = cursor

    def _wait(self) -> None:
        """Until a notification comes or ``interval`` passes."""
        if self.listen and self._conn is None and not self.down:
            self._connect()
        if self._conn is None:
            self._stop.wait(self.interval)
            return
        try:
            for _ in self._conn.notifies(timeout=self.interval, stop_after=1):
                pass
            # Take what arrived with it: one round answers a burst.
            for _ in self._conn.notifies(timeout=0.005):
                pass
        except Exception as exc:  # noqa: BLE001 - the connection broke: poll until it is back
            self._trouble(exc)
            self._disconnect()

    def _connect(self) -> None:
        import psycopg

        engine = self.store.engine
        _, params = engine.dialect.create_connect_args(engine.url)
        params = {k: v for k, v in params.items() if k != "context"}
        try:
            conn = psycopg.connect(**params, autocommit=True, connect_timeout=3)
            for channel in CHANNELS:
                conn.execute(f"LISTEN {channel}")
        except Exception as exc:  # noqa: BLE001 - polling goes on without it
            self._trouble(exc)
            return
        self._conn = conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is broken already
                conn.close()

    def _trouble(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "The database cannot be reached (%s: %s); this node serves what it has cached "
                "and tries again every %.1f s.",
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail",
                self.interval,
            )

    def _purge(self) -> None:
        with self.store.begin() as conn:
            changes.purge(conn, utcnow() - KEEP_CHANGES)
