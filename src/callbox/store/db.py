"""Open the store: the database (migrated to the newest schema on open), blobs and secrets."""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from callbox.store.blobs import BlobStore
from callbox.store.secretbox import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"
# In a data folder used with a shared database: that database's URL (no password).
SHARED_MARKER = "database"
# What a query raises when the database is away: refused or broken connections (the driver's
# errors) and a connection pool with none to hand out (a stalled database).
UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


# Query parameters libpq takes secrets in (a URL's password part is hidden anyway).
_SECRET_PARAMETERS = ("password", "sslpassword", "passfile")


def public_url(url: sa.URL) -> str:
    """``url`` as it may be shown or written down: without its password in any form."""
    return url.difference_update_query(_SECRET_PARAMETERS).render_as_string(hide_password=True)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    def __init__(self, engine: sa.Engine, blobs: BlobStore, box: SecretBox, data: Path) -> None:
        self.engine = engine
        self.blobs = blobs
        self.box = box
        self.data = data

    @classmethod
    def open(cls, data: Path, database_url: str = "", secret_key: str = "") -> Store:
        """Open (creating when new) the store under ``data``; the schema is migrated first."""
        data = data.absolute()  # workers run in their build folder: paths must not be relative
        data.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # not ours to change: leave it
            data.chmod(0o700)  # the database and blobs hold every account's code and logs
        url = database_url or f"sqlite:///{data / 'callbox.db'}"
        marker = data / SHARED_MARKER
        if not database_url and marker.exists():
            # A node's folder opened without its database (a command run without the node's
            # settings) would otherwise become a new, empty SQLite store beside the cache.
            raise ValueError(
                f"{data} is the cache of a node of the database {marker.read_text().strip()}; "
                "set CALLBOX_DATABASE_URL and CALLBOX_SECRET_KEY as the node has them (or "
                f"remove {marker} to make it a store of its own)."
            )
        engine = create_engine(url)
        migrate(engine)
        # On PostgreSQL version contents live in the database (every node reads them) and the
        # data folder keeps copies; with SQLite the data folder is the store itself.
        shared = engine if engine.dialect.name != "sqlite" else None
        if shared is not None:
            described = public_url(engine.url)
            if not marker.exists() or marker.read_text().strip() != described:
                aside = marker.with_name(f".{SHARED_MARKER}.{uuid.uuid4().hex}")
                aside.write_text(described + "\n")
                aside.replace(marker)
        return cls(
            engine,
            BlobStore(data / "blobs", shared),
            SecretBox.from_file(data / "secret.key", secret_key),
            data,
        )

    def describe(self) -> str:
        """The database, for people: its kind and URL without the password."""
        return public_url(self.engine.url)

    @property
    def shared(self) -> bool:
        """Whether several nodes may use this database (PostgreSQL), not only this process."""
        return self.engine.dialect.name != "sqlite"

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction that may write: committed when the block ends, rolled back if it
        raises. On SQLite it takes the write lock first (BEGIN IMMEDIATE), so what it checks
        ("is this name taken?", "fewer than 50?") still holds when it writes."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def begin_unlocked(self) -> Iterator[sa.Connection]:
        """A writing transaction that does not take PostgreSQL's writer lock: for writes that
        check nothing and order nothing (a blob stored by its hash, a heartbeat), so a 25 MB
        upload does not hold every other writer up. On SQLite the same as ``begin``."""
        with self.engine.connect() as conn:
            conn.execution_options(callbox_unlocked=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction: never waits for writers (SQLite WAL)."""
        with self.engine.connect() as conn:
            conn.execution_options(callbox_read_only=True)
            with conn.begin():
                yield conn

    def now(self, conn: sa.Connection) -> datetime:
        """The time by the database's clock on PostgreSQL (nodes compare times they did not
        write themselves: heartbeats, build claims), naive UTC; this machine's on SQLite."""
        if not self.shared:
            return utcnow()
        value = conn.execute(sa.text("SELECT timezone('utc', clock_timestamp())")).scalar_one()
        assert isinstance(value, datetime)
        return value

    def notify(self, conn: sa.Connection, channel: str, payload: str = "") -> None:
        """PostgreSQL NOTIFY on ``channel``, sent when ``conn``'s transaction commits (nothing
        on SQLite: there, the one node learns of its own changes directly)."""
        if self.shared:
            conn.execute(sa.select(sa.func.pg_notify(channel, payload)))

    def schema_current(self) -> bool:
        """Whether the database answers with every migration of this version applied (raises
        if it cannot be reached). A revision this version does not know is a newer one, run by
        a node already upgraded: migrations only add, so this node still works with it (a
        rolling upgrade, docs/deploy.md). A database without the table was never migrated."""
        with self.engine.connect() as conn:
            if not _table_exists(conn, "alembic_version"):
                return False
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return found == head_revision() or (bool(found) and found not in revisions())

    def close(self) -> None:
        self.engine.dispose()


# The advisory lock every writing transaction takes on PostgreSQL (any constant of ours).
WRITER_LOCK = 0x63616C6C626F78  # "callbox"


# Seconds to wait for a connection to PostgreSQL: a database that went away must make the API
# answer 503 soon, not hang its threads.
CONNECT_TIMEOUT = 3


def create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
            pool_size=10,
            max_overflow=20,
            pool_timeout=CONNECT_TIMEOUT * 2,
        )

        @sa.event.listens_for(engine, "begin")
        def _one_writer(conn: sa.Connection) -> None:
            # As SQLite's BEGIN IMMEDIATE: one writing transaction at a time, on every node, so
            # a check and the write after it are one unit (50 services, 3 KB of variables), and
            # numbers handed out under it (log seq, change seq) commit in their order.
            options = conn.get_execution_options()
            if not options.get("callbox_read_only", False) and not options.get(
                "callbox_unlocked", False
            ):
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")

        return engine
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # The driver's own transaction handling would BEGIN only at the first write; callbox
        # says BEGIN itself (below), so a check and the write after it are one unit.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # WAL: readers (the gateway's lookups, log queries) never wait for a writer.
        _wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        read_only = conn.get_execution_options().get("callbox_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, tried again while another process holds the file: on a new
    database the change needs it alone for a moment, and SQLite then answers "database is
    locked" at once, without waiting out the busy timeout (processes opening one new data
    folder together: `callbox serve` and a CLI command)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@functools.cache
def head_revision() -> str:
    """The newest migration's revision."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


@functools.cache
def revisions() -> frozenset[str]:
    """Every migration's revision this version knows."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _scripts() -> Any:
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (Alembic ``upgrade head``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # One transaction, which on PostgreSQL takes the writer lock first (create_engine): of
    # several nodes starting at once one migrates, the others then find nothing left to do.
    with engine.begin() as conn:
        if _table_exists(conn, "alembic_version"):
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if found and found not in revisions():
                logging.getLogger("callbox.store").warning(
                    "The database's schema (revision %s) is newer than this version of callbox "
                    "knows; it runs on it unchanged (migrations only add).",
                    found,
                )
                return
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _table_exists(conn: sa.Connection, name: str) -> bool:
    return bool(sa.inspect(conn).has_table(name))
