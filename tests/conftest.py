"""Fixtures shared across test folders: real worker processes, a real store, npm packages."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from callbox.gateway.supervisor import Supervisor
from callbox.logs import book as book_module
from callbox.logs.book import LogBook
from callbox.store.db import Store
from postgres import Cluster, binary
from postgres import wanted as postgres_wanted


# One warm parent per test module: starting it is most of a test's cost. Modules using it set
# `pytestmark = pytest.mark.asyncio(loop_scope="module")`; every test still gets its own workers.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor() -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(max_body=4 * 1024 * 1024)
    await supervisor.start()
    yield supervisor
    await supervisor.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster | None]:
    """The PostgreSQL cluster when CALLBOX_TEST_DATABASE=postgresql, else None."""
    if not postgres_wanted():
        yield None
        return
    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Cluster]:
    """A PostgreSQL server of the test module's own, which its tests may stop and start again
    (``halt``, ``resume``) without disturbing the others; skipped where PostgreSQL is not
    installed. Started whatever CALLBOX_TEST_DATABASE says."""
    if binary("initdb") is None or binary("pg_ctl") is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl)")
    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(postgres: Cluster | None) -> str:
    """ "" (SQLite in the data folder), or a fresh PostgreSQL database of this test's own."""
    return postgres.database() if postgres is not None else ""


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[Store]:
    """A fresh store (SQLite, or PostgreSQL with CALLBOX_TEST_DATABASE=postgresql; blobs and
    the secret key in the test's temporary folder)."""
    opened = Store.open(tmp_path / "data", database_url)
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


# npm packages the Node.js tests load: installed from the registry once, then reused.
NPM_FOLDER = Path(
    os.environ.get("CALLBOX_TEST_NPM", Path.home() / ".cache" / "callbox-tests" / "npm")
)
NPM_PACKAGES = {
    "twilio": "5",
    "@twilio/runtime-handler": "",
    # Types for JavaScript functions (init writes a jsconfig.json using them) and the checker.
    "@twilio-labs/serverless-runtime-types": "4",
    "typescript": "5",
}


def _npm_ready(modules: Path) -> bool:
    for name, major in NPM_PACKAGES.items():
        manifest = modules / name / "package.json"
        if not manifest.is_file():
            return False
        if major and not json.loads(manifest.read_text())["version"].startswith(f"{major}."):
            return False
    return True


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """A node_modules folder with `twilio` 5 and `@twilio/runtime-handler` (a site_packages
    entry for Node.js workers). Installed with npm into CALLBOX_TEST_NPM (default
    ~/.cache/callbox-tests/npm) when missing; needs node, npm and the registry only then."""
    modules = NPM_FOLDER / "node_modules"
    if _npm_ready(modules):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the Node.js worker tests install twilio with it")
    NPM_FOLDER.mkdir(parents=True, exist_ok=True)
    with open(NPM_FOLDER / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if not _npm_ready(modules):
            manifest = NPM_FOLDER / "package.json"
            if not manifest.exists():  # or npm would install into a project further up
                manifest.write_text('{"name": "callbox-test-packages", "private": true}\n')
            specs = [f"{name}@{major}" if major else name for name, major in NPM_PACKAGES.items()]
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", *specs],
                cwd=NPM_FOLDER,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0 or not _npm_ready(modules):
                pytest.fail(f"npm install {' '.join(specs)} failed:\n{done.stdout}{done.stderr}")
    return modules
