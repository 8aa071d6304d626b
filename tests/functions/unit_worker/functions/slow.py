import asyncio
import os


async def handler(context, event, callback):
    await asyncio.sleep(float(event.get("delay", "0.2")))
    return {"tag": event.get("tag"), "pid": os.getpid()}
