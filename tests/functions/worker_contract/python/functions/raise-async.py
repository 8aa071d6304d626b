import asyncio


class AsyncFailure(Exception):
    pass


async def handler(context, event, callback):
    await asyncio.sleep(0.01)
    raise AsyncFailure("async failure")
