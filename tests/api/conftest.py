"""In-process API tests: a real SQLite store in a temporary folder, httpx over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callbox.api.app import Api, create_api
from callbox.config import Config
from callbox.store.accounts import Accounts
from callbox.store.db import Store

BASE = "http://api.test"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store)


@pytest.fixture
def owner(accounts: Accounts) -> tuple[str, str]:
    created = accounts.ensure_owner()
    assert created is not None
    return created


@pytest.fixture
def api(store: Store, accounts: Accounts) -> Api:
    return Api(config=Config.load({}), store=store, accounts=accounts)


@pytest.fixture
async def client(api: Api, owner: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(api))
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=owner) as c:
        yield c


@pytest.fixture
async def other(api: Api, accounts: Accounts) -> AsyncIterator[httpx.AsyncClient]:
    """A second account's client: it must see none of the owner's resources."""
    creds = accounts.create_account("Other", None)
    transport = httpx.ASGITransport(app=create_api(api))
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=creds) as c:
        yield c
