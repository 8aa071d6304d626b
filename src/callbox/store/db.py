"""Open the store: the database (migrated to the newest schema on open), blobs and secrets."""

from __future__ import annotations

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
        data.mkdir(parents=True, exist_ok=True)
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
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL: readers (the gateway's lookups, log queries) never wait for a writer.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (Alembic ``upgrade head``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
