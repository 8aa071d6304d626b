"""store/db.py: opening a data folder."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from callbox.store.db import Store, create_engine, head_revision, public_url
from postgres import Cluster


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


# --- several nodes on one database --------------------------------------------------------

OPEN = """
import sys, time
from pathlib import Path
from callbox.store.db import Store
start = float(sys.argv[3])
while time.time() < start:  # every process opens at the same moment
    time.sleep(0.001)
Store.open(Path(sys.argv[1]), sys.argv[2]).close()
"""


def open_at_once(url: str, folders: list[Path]) -> list[subprocess.CompletedProcess[str]]:
    start = time.time() + 3  # after every interpreter has imported callbox
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(folder), url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for folder in folders
    ]
    done = []
    for process in processes:
        output, _ = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, output))
    return done


def schema_of(engine: sa.Engine) -> tuple[list[str], set[str]]:
    with engine.connect() as conn:
        found = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
        return found, set(sa.inspect(conn).get_table_names())


def test_nodes_starting_at_once_on_a_new_postgresql_migrate_it_once(
    own_postgres: Cluster, tmp_path: Path
) -> None:
    url = own_postgres.database()
    done = open_at_once(url, [tmp_path / f"node{n}" for n in range(6)])
    for process in done:
        assert process.returncode == 0, process.stdout[-3000:]
    engine = create_engine(url)
    try:
        revisions, tables = schema_of(engine)
    finally:
        engine.dispose()
    assert revisions == [head_revision()]
    assert {"services", "changes", "nodes", "blobs", "alembic_version"} <= tables


def test_processes_opening_one_new_sqlite_folder_at_once_all_succeed(tmp_path: Path) -> None:
    # `callbox serve` and CLI commands on one data folder (SQLite: one node, several processes).
    data = tmp_path / "data"
    done = open_at_once("", [data] * 4)
    for process in done:
        assert process.returncode == 0, process.stdout[-3000:]
    assert [p.name for p in data.iterdir() if "secret" in p.name] == ["secret.key"]  # one key
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    engine = create_engine(f"sqlite:///{data / 'callbox.db'}")
    try:
        assert schema_of(engine)[0] == [head_revision()]
    finally:
        engine.dispose()


def test_a_schema_newer_than_this_version_is_left_as_it_is(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_a_newer_node'"))
    url = store.engine.url.render_as_string(hide_password=False)
    with caplog.at_level(logging.WARNING, logger="callbox.store"):
        again = Store.open(store.data, url if store.shared else "")
    try:
        assert [r.getMessage() for r in caplog.records if r.name == "callbox.store"] == [
            "The database's schema (revision 0099_from_a_newer_node) is newer than this version "
            "of callbox knows; it runs on it unchanged (migrations only add)."
        ]
        assert schema_of(again.engine)[0] == ["0099_from_a_newer_node"]
        assert again.schema_current()  # a rolling upgrade: this node still serves
    finally:
        again.close()


def test_schema_current_at_head_and_not_on_an_older_revision(store: Store) -> None:
    assert store.schema_current()
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))
    assert not store.schema_current()


def test_a_node_s_folder_opened_without_its_database_is_refused(
    own_postgres: Cluster, tmp_path: Path
) -> None:
    data = tmp_path / "node"
    url = own_postgres.database()
    Store.open(data, url).close()
    described = public_url(sa.make_url(url))
    assert (data / "database").read_text() == described + "\n"
    with pytest.raises(ValueError) as refused:
        Store.open(data)  # no database URL: the command was run without the node's settings
    assert str(refused.value) == (
        f"{data} is the cache of a node of the database {described}; set "
        "CALLBOX_DATABASE_URL and CALLBOX_SECRET_KEY as the node has them (or remove "
        f"{data / 'database'} to make it a store of its own)."
    )
    assert not (data / "callbox.db").exists()  # nothing made beside the cache
    Store.open(data, url).close()  # with it, as before


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:SECRET@h/db", "postgresql+psycopg://u:***@h/db"),
        ("postgresql+psycopg://u@h/db?password=SECRET", "postgresql+psycopg://u@h/db"),
        (
            "postgresql+psycopg://u@h/db?sslmode=require&sslpassword=SECRET",
            "postgresql+psycopg://u@h/db?sslmode=require",
        ),
        ("postgresql+psycopg://u@h/db?passfile=/SECRET", "postgresql+psycopg://u@h/db"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert public_url(sa.make_url(url)) == shown
