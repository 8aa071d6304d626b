import asyncio
from pathlib import Path


async def handler(context, event, callback):
    marker = Path(event["marker"])

    async def background():
        try:
            await asyncio.sleep(0.3)
            marker.write_text("finished")
        except asyncio.CancelledError:
            marker.write_text("cancelled")
            raise

    asyncio.create_task(background())
    await asyncio.sleep(0.05)  # the task is running when the callback comes
    callback(None, "done")
