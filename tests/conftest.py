"""Fixtures shared across test folders: real worker processes, a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from callbox.gateway.supervisor import Supervisor
from callbox.logs import book as book_module
from callbox.logs.book import LogBook
from callbox.store.db import Store


# One warm parent per test module: starting it is most of a test's cost. Modules using it set
# `pytestmark = pytest.mark.asyncio(loop_scope="module")`; every test still gets its own workers.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor() -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(max_body=4 * 1024 * 1024)
    await supervisor.start()
    yield supervisor
    await supervisor.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store (SQLite, blobs, secret key) in the test's temporary folder."""
    opened = Store.open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def logbook(store: Store) -> Iterator[LogBook]:
    """A started log book on the test's store (its writer thread stopped afterwards)."""
    book = LogBook(store, 30)
    book.start()
    yield book
    book.close()


@pytest.fixture
def believe_old_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that date lines in the past on purpose; the real window is tested on its own."""
    monkeypatch.setattr(book_module, "BELIEVED_SECONDS", 10 * 365 * 86400.0)
