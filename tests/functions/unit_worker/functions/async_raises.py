import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(0)
    raise KeyError("async handler failed on purpose")
