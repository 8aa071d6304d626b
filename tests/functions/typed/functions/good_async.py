"""An async handler with callbox's types."""

import asyncio

from callbox.runtime.types import Callback, Context, Event


async def handler(context: Context, event: Event, callback: Callback) -> None:
    await asyncio.sleep(0)
    callback(None, {"domain": context.get("DOMAIN_NAME")})
