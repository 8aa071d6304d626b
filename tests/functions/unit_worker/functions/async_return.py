import asyncio
import os


async def handler(context, event, callback):
    await asyncio.sleep(0.01)
    return {"kind": "async-return", "path": context.PATH, "pid": os.getpid()}
