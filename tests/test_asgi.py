"""asgi.py: the lifespan loop every callbox app runs (serve's Server, start's DevServer)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from callbox.asgi import Message, run_lifespan


class Lifespan:
    """What uvicorn does: sends ``messages`` in turn, records what the app answers."""

    def __init__(self, *messages: str) -> None:
        self.messages = [{"type": f"lifespan.{name}"} for name in messages]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self.messages.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


async def test_startup_then_shutdown_each_run_once_and_are_answered() -> None:
    calls: list[str] = []

    async def startup() -> None:
        calls.append("startup")

    async def shutdown() -> None:
        calls.append("shutdown")

    server = Lifespan("startup", "shutdown")
    await run_lifespan(server.receive, server.send, startup, shutdown)

    assert calls == ["startup", "shutdown"]
    assert server.sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]


async def test_a_failed_startup_is_reported_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def startup() -> None:
        raise RuntimeError("the sandbox is not available")

    async def shutdown() -> Any:
        raise AssertionError("no shutdown after a failed start")

    server = Lifespan("startup", "shutdown")
    with caplog.at_level(logging.ERROR):
        await run_lifespan(
            server.receive, server.send, startup, shutdown, logging.getLogger("callbox.test")
        )

    assert server.sent == [
        {"type": "lifespan.startup.failed", "message": "the sandbox is not available"}
    ]
    assert [r.getMessage() for r in caplog.records] == ["callbox could not start."]
    assert caplog.records[0].exc_info is not None  # with its traceback


async def test_without_a_logger_a_failed_startup_is_only_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def startup() -> None:
        raise RuntimeError("port in use")

    async def shutdown() -> None:
        pass

    server = Lifespan("startup")
    with caplog.at_level(logging.DEBUG):
        await run_lifespan(server.receive, server.send, startup, shutdown)

    assert server.sent == [{"type": "lifespan.startup.failed", "message": "port in use"}]
    assert caplog.records == []
