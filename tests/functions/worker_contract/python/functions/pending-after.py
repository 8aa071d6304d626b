"""Work started right after callback() never runs."""

import asyncio


async def work():
    await asyncio.sleep(0.05)
    print("LEAK after")


async def handler(context, event, callback):
    callback(None, "called back")
    asyncio.create_task(work())
