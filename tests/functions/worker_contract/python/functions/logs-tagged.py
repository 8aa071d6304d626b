"""Logs ?tag= before and after waiting, so concurrent invocations interleave."""

import asyncio


async def handler(context, event, callback):
    print(f"{event['tag']} start")
    await asyncio.sleep(0.05)
    print(f"{event['tag']} end")
    callback(None, event["tag"])
