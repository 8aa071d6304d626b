"""Logs a line, never calls back; what it scheduled must not run once it is cancelled."""

import asyncio


async def handler(context, event, callback):
    print("started")
    await asyncio.sleep(0.3)
    print("LEAK never")
    callback(None, "too late")
