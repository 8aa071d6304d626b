"""Content-addressed blobs: function and asset version contents, stored once by SHA-256.

With SQLite (one machine) the files under ``<data>/blobs`` are the store. With PostgreSQL the
``blobs`` table is, and the files are this node's cache of it: a node that never saw an upload
reads the content from the database once, by its hash, and keeps it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from callbox.store.tables import blobs


class BlobStore:
    def __init__(self, root: Path, engine: sa.Engine | None = None) -> None:
        self.root = root
        self.engine = engine  # PostgreSQL: the durable store; None: the files are

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256; writing the same bytes twice is free."""
        digest = hashlib.sha256(data).hexdigest()
        if self.engine is not None:
            # Its own transaction without the writer lock: nothing is checked, and a blob no
            # version names is harmless.
            statement = (
                pg_insert(blobs)
                .values(sha256=digest, size=len(data), content=data, date_created=_now())
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
            with self.engine.connect() as conn:
                conn.execution_options(callbox_unlocked=True)
                with conn.begin():
                    conn.execute(statement)
        self._write(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        """The content of ``digest``; FileNotFoundError if it is stored nowhere."""
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            if self.engine is None:
                raise
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(blobs.c.content).where(blobs.c.sha256 == digest)).scalar()
        if data is None:
            raise FileNotFoundError(f"No blob {digest} in the database.")
        data = bytes(data)
        if hashlib.sha256(data).hexdigest() == digest:  # a damaged copy is never cached
            self._write(digest, data)
        return data

    def missing(self, digests: set[str]) -> set[str]:
        """Which of ``digests`` the database lacks (PostgreSQL; none with SQLite)."""
        if self.engine is None or not digests:
            return set()
        found: set[str] = set()
        ordered = sorted(digests)
        with self.engine.connect() as conn:
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                found.update(
                    conn.scalars(sa.select(blobs.c.sha256).where(blobs.c.sha256.in_(chunk)))
                )
        return digests - found

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a crash never leaves a half blob under its final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
