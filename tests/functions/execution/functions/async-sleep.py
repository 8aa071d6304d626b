import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(0.5)
    callback(None, "done")
