"""/ready (api/app.py) and API calls while the database is away (api/endpoint.py's
``unreachable``): 503 in Twilio's error shape, with Retry-After, and never a traceback."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from factories import connect

from callbox.api.app import Api
from callbox.config import Config
from callbox.store.accounts import Accounts
from callbox.store.blobs import BlobStore
from callbox.store.db import Store, create_engine, head_revision
from callbox.store.secretbox import SecretBox
from callbox.store.tables import services
from postgres import Cluster

NOT_CURRENT = (
    "Not ready: the database schema is not this version's; run the migrations (start this "
    "version's `callbox serve` once, or see docs/deploy.md)."
)


def unavailable(message: str) -> dict[str, object]:
    return {
        "code": 20503,
        "message": message,
        "more_info": "https://www.twilio.com/docs/errors/20503",
        "status": 503,
    }


def set_revision(store: Store, revision: str | None) -> None:
    with store.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
        if revision is not None:
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


async def test_ready_when_the_schema_is_current(client: httpx.AsyncClient) -> None:
    r = await client.get("/ready", auth=None)  # a load balancer has no credentials
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


async def test_not_ready_on_an_older_schema(store: Store, client: httpx.AsyncClient) -> None:
    set_revision(store, "0004")
    r = await client.get("/ready")
    assert r.status_code == 503
    assert r.json() == unavailable(NOT_CURRENT)
    assert r.headers["Retry-After"] == "1"


@pytest.mark.parametrize("revision", [None, "0003", ""], ids=["no row", "old", "empty"])
async def test_not_ready_without_this_version_s_schema(
    store: Store, client: httpx.AsyncClient, revision: str | None
) -> None:
    set_revision(store, revision)
    r = await client.get("/ready")
    assert (r.status_code, r.json()) == (503, unavailable(NOT_CURRENT))


async def test_not_ready_on_a_database_never_migrated(
    store: Store, client: httpx.AsyncClient
) -> None:
    # The database answers: "cannot be reached" would send the operator the wrong way.
    with store.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    r = await client.get("/ready")
    assert (r.status_code, r.json()) == (503, unavailable(NOT_CURRENT))


async def test_ready_on_a_newer_schema(store: Store, client: httpx.AsyncClient) -> None:
    # A node already upgraded migrated further (a rolling upgrade): migrations only add.
    set_revision(store, "9999_from_the_future")
    r = await client.get("/ready")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    set_revision(store, head_revision())
    assert (await client.get("/ready")).status_code == 200


# --- the database away --------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nobody listens


@pytest.fixture
def nowhere(tmp_path: Path) -> Iterator[Store]:
    """A store whose PostgreSQL is not there (nothing listens on its port)."""
    url = f"postgresql+psycopg://callbox@127.0.0.1:{closed_port()}/callbox"
    engine = create_engine(url)
    store = Store(
        engine,
        BlobStore(tmp_path / "blobs", engine),
        SecretBox.from_file(tmp_path / "secret.key"),
        tmp_path,
    )
    yield store
    store.close()


@pytest.fixture
async def nowhere_client(nowhere: Store) -> AsyncIterator[httpx.AsyncClient]:
    api = Api(config=Config.load({}), store=nowhere, accounts=Accounts(nowhere))
    async with connect(api, ("AC" + "0" * 32, "token")) as c:
        yield c


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    assert "Unexpected error" not in caplog.text


async def test_not_ready_when_the_database_cannot_be_reached(
    nowhere_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = await nowhere_client.get("/ready")
    assert r.status_code == 503
    assert r.json() == unavailable("Not ready: the database cannot be reached (OperationalError).")
    assert r.headers["Retry-After"] == "1"
    no_traceback(caplog)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/v1/Services", None),
        ("POST", "/v1/Services", {"UniqueName": "shop", "FriendlyName": "Shop"}),
        ("DELETE", "/v1/Services/ZS" + "0" * 32, None),
    ],
)
async def test_an_api_call_without_the_database_is_503_with_retry_after(
    nowhere_client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    data: dict[str, str] | None,
) -> None:
    caplog.set_level(logging.WARNING)
    r = await nowhere_client.request(method, path, data=data)
    assert r.status_code == 503
    assert r.json() == unavailable(
        "The database is unreachable; nothing was changed. Try again in a few seconds."
    )
    assert r.headers["Retry-After"] == "2"
    assert r.headers["Access-Control-Allow-Origin"] == "*"  # the API's headers, as on success
    assert f"{method} {path}: the database cannot be reached" in caplog.text
    no_traceback(caplog)


@pytest.fixture
def halting(own_postgres: Cluster, tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "data", own_postgres.database())
    own_postgres.checkpoint()  # the schema survives the halt
    yield store
    store.close()


async def test_a_database_that_stops_and_comes_back(
    own_postgres: Cluster, halting: Store, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = Accounts(halting)
    owner = accounts.ensure_owner()
    assert owner is not None
    own_postgres.checkpoint()
    api = Api(config=Config.load({}), store=halting, accounts=accounts)
    async with connect(api, owner) as client:
        assert (await client.get("/v1/Services")).status_code == 200  # a pooled connection
        assert (await client.get("/ready")).status_code == 200
        own_postgres.halt()
        try:
            r = await client.get("/ready")
            assert r.status_code == 503
            assert r.json()["message"].startswith("Not ready: the database cannot be reached")
            form = {"UniqueName": "shop", "FriendlyName": "Shop"}
            r = await client.post("/v1/Services", data=form)
            assert (r.status_code, r.json()["code"], r.headers["Retry-After"]) == (503, 20503, "2")
            r = await client.get("/v1/Services")
            assert (r.status_code, r.json()["code"]) == (503, 20503)
        finally:
            own_postgres.resume()
        assert (await client.get("/ready")).status_code == 200
        r = await client.get("/v1/Services")
        assert r.status_code == 200 and r.json()["services"] == []  # nothing was changed
    with halting.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(services)).scalar() == 0
    no_traceback(caplog)


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[Store]:
    """A store whose only pooled connection is taken: a query waits, then gets no connection
    (as when a stalled database holds every connection of the pool)."""
    Store.open(tmp_path / "data").close()  # the schema, made once
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'data' / 'callbox.db'}",
        poolclass=sa.pool.QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
        connect_args={"check_same_thread": False},
    )
    store = Store(
        engine,
        BlobStore(tmp_path / "data" / "blobs"),
        SecretBox.from_file(tmp_path / "data" / "secret.key"),
        tmp_path / "data",
    )
    held = engine.connect()
    yield store
    held.close()
    store.close()


async def test_an_api_call_that_gets_no_pooled_connection_is_503(
    stalled: Store, caplog: pytest.LogCaptureFixture
) -> None:
    api = Api(config=Config.load({}), store=stalled, accounts=Accounts(stalled))
    async with connect(api, ("AC" + "0" * 32, "token")) as client:
        r = await client.get("/v1/Services")
    assert (r.status_code, r.json()["code"], r.headers["Retry-After"]) == (503, 20503, "2")
    assert "GET /v1/Services: the database cannot be reached" in caplog.text
    no_traceback(caplog)
