"""An async handler that leaves a task pending when it calls back.

?order=before: the task is started before callback(); ?order=after: created right after it.
When the task ends, a done-callback prints "<tag>: cancelled" or "<tag>: finished"; a task
that survives also prints "LEAK <tag>".
"""

import asyncio


async def work(tag):
    await asyncio.sleep(0.3)
    print(f"LEAK {tag}")


def watch(task, tag):
    task.add_done_callback(
        lambda done: print(f"{tag}: {'cancelled' if done.cancelled() else 'finished'}")
    )


async def handler(context, event, callback):
    tag = event["tag"]
    if event.get("order") == "before":
        watch(asyncio.create_task(work(tag)), tag)
        await asyncio.sleep(0)  # the task starts and is waiting when callback() comes
        callback(None, "called back")
    else:
        callback(None, "called back")
        watch(asyncio.create_task(work(tag)), tag)
