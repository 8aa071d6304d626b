"""An async handler that leaves a task pending when it calls back.

?order=before: the task is created before callback(); ?order=after: right after it.
The task prints "LEAK <tag>" if it survives, "cancelled <tag>" if it is cancelled.
"""

import asyncio


async def work(tag):
    try:
        await asyncio.sleep(0.3)
        print(f"LEAK {tag}")
    except asyncio.CancelledError:
        print(f"cancelled {tag}")
        raise


async def handler(context, event, callback):
    tag = event["tag"]
    if event.get("order") == "before":
        asyncio.create_task(work(tag))
        callback(None, "called back")
    else:
        callback(None, "called back")
        asyncio.create_task(work(tag))
