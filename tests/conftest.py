"""Fixtures shared by the in-process tests that need real worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from callbox.gateway.supervisor import Supervisor


# One warm parent per test module: starting it is most of a test's cost. Modules using it set
# `pytestmark = pytest.mark.asyncio(loop_scope="module")`; every test still gets its own workers.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor() -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(max_body=4 * 1024 * 1024)
    await supervisor.start()
    yield supervisor
    await supervisor.stop()
