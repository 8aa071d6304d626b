async def handler(context, event, callback):
    raise RuntimeError("async failure")
