import time


async def handler(context, event, callback):
    time.sleep(5)  # blocks the worker's event loop: the cancel cannot be answered
    return "unreachable"
