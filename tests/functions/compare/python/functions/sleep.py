import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(float(event.get("seconds", "5")))
    return callback(None, "awake")
