"""Waits ?ms= milliseconds, then answers with ?tag=."""

import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(int(event["ms"]) / 1000)
    callback(None, {"tag": event["tag"]})
