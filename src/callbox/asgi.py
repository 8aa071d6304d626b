"""The ASGI contract every callbox app speaks: the hot path's one signature, and the lifespan
loop that starts and stops what an app needs (``callbox serve`` and ``callbox start`` alike).

Standard library only: the gateway, the API, the server and the toolkit's dev server import it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def run_lifespan(
    receive: Receive,
    send: Send,
    startup: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    log: logging.Logger | None = None,
) -> None:
    """Answer the server's lifespan messages: ``startup()`` before the first request,
    ``shutdown()`` after the last. A start-up failure is reported to the server (uvicorn then
    exits with its message) and, given ``log``, logged with its traceback."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await startup()
            except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which exits
                if log is not None:
                    log.exception("callbox could not start.")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
