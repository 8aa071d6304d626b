"""store/db.py: opening a data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callbox.store.db import Store


def test_a_relative_data_folder_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.open(Path("relative-data"))
    try:
        assert store.data == tmp_path / "relative-data"
        assert store.blobs.root.is_absolute()
    finally:
        store.close()


def test_the_data_folder_is_private(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    try:
        assert os.stat(store.data).st_mode & 0o777 == 0o700
        assert (store.data / "secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def test_opening_twice_keeps_the_schema_and_the_key(tmp_path: Path) -> None:
    first = Store.open(tmp_path / "data")
    sealed = first.box.seal("token")
    first.close()
    second = Store.open(tmp_path / "data")
    try:
        assert second.box.open(sealed) == "token"
    finally:
        second.close()


def test_a_database_of_revision_0001_gets_the_log_order(tmp_path: Path) -> None:
    """An existing data folder (the first schema) is upgraded on start: its log lines are
    numbered in the order of their time, and new lines follow them."""
    from datetime import datetime, timedelta

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from callbox.logs.book import LogBook
    from callbox.store.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        start = datetime(2026, 1, 1)
        for index, sid in enumerate(["NO" + "b" * 32, "NO" + "a" * 32]):
            conn.execute(
                sa.text(
                    "INSERT INTO logs (sid, account_sid, service_sid, environment_sid, level, "
                    "message, date_created) VALUES (:sid, 'AC1', 'ZS1', 'ZE1', 'INFO', :m, :d)"
                ),
                {"sid": sid, "m": f"old {index}", "d": start + timedelta(seconds=index)},
            )
    engine.dispose()
    store = Store.open(tmp_path / "data", url)
    try:
        with store.read() as conn:
            rows = conn.execute(sa.text("SELECT message, seq FROM logs ORDER BY seq")).all()
        assert [row.message for row in rows] == ["old 0", "old 1"]
        assert all(row.seq is not None for row in rows)
        book = LogBook(store, retention_days=0)
        environment_sid = "ZE" + "1" * 32
        book.record(
            {"account_sid": "AC1", "service_sid": "ZS1", "environment_sid": environment_sid},
            [{"message": "new"}],
        )
        book.flush()
        with store.read() as conn:
            new = conn.execute(sa.text("SELECT seq FROM logs WHERE message = 'new'")).scalar()
        assert new == rows[-1].seq + 1  # new lines come after the old ones
    finally:
        store.close()
