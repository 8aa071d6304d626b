import asyncio
import os


async def handler(context, event, callback):
    await asyncio.sleep(float(event.get("delay", "5")))
    return {"pid": os.getpid()}
