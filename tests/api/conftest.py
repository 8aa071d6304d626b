"""In-process API tests: a real SQLite store in a temporary folder, httpx over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from factories import connect

from callbox.api.app import Api
from callbox.config import Config
from callbox.store.accounts import Accounts
from callbox.store.db import Store


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
    async with connect(api, owner) as c:
        yield c


@pytest.fixture
async def other(api: Api, accounts: Accounts) -> AsyncIterator[httpx.AsyncClient]:
    """A second account's client: it must see none of the owner's resources."""
    async with connect(api, accounts.create_account("Other", None)) as c:
        yield c


@pytest.fixture
def changes() -> list[str]:
    """The SIDs ``watched`` announced as changed, in order."""
    return []


@pytest.fixture
async def watched(
    api: Api, store: Store, accounts: Accounts, owner: tuple[str, str], changes: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The owner's client on an Api that records every ``changed(sid)`` call."""
    recording = Api(config=api.config, store=store, accounts=accounts, on_change=changes.append)
    async with connect(recording, owner) as c:
        yield c
