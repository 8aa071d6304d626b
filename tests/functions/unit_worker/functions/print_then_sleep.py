import asyncio


async def handler(context, event, callback):
    print("started, then stuck")
    await asyncio.sleep(30)
