"""Open the store: the database (migrated to the newest schema on open), blobs and secrets."""

from __future__ import annotations

import contextlib
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
        engine = create_engine(url)
        migrate(engine)
        return cls(
            engine,
            BlobStore(data / "blobs"),
            SecretBox.from_file(data / "secret.key", secret_key),
            data,
        )

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction that may write: committed when the block ends, rolled back if it
        raises. On SQLite it takes the write lock first (BEGIN IMMEDIATE), so what it checks
        ("is this name taken?", "fewer than 50?") still holds when it writes."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction: never waits for writers (SQLite WAL)."""
        with self.engine.connect() as conn:
            conn.execution_options(callbox_read_only=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


# The advisory lock every writing transaction takes on PostgreSQL (any constant of ours).
WRITER_LOCK = 0x63616C6C626F78  # "callbox"


def create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_pre_ping=True)

        @sa.event.listens_for(engine, "begin")
        def _one_writer(conn: sa.Connection) -> None:
            # As SQLite's BEGIN IMMEDIATE: one writing transaction at a time, on every node, so
            # a check and the write after it are one unit (50 services, 3 KB of variables).
            if not conn.get_execution_options().get("callbox_read_only", False):
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
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        read_only = conn.get_execution_options().get("callbox_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (Alembic ``upgrade head``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
