"""An async handler that never calls back and never returns."""

import asyncio
import os


async def handler(context, event, callback):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    await asyncio.Event().wait()
