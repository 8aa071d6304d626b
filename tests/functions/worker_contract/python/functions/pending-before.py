"""Work started before callback() is cut off when the callback comes."""

import asyncio


async def work():
    await asyncio.sleep(0.2)
    print("LEAK before")


async def handler(context, event, callback):
    asyncio.create_task(work())
    await asyncio.sleep(0)
    callback(None, "called back")
