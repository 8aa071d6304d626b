"""An async handler returning a value without calling callback."""


async def handler(context, event, callback):
    return "returned from async"
