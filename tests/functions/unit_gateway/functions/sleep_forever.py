import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(30)
