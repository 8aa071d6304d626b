async def handler(context, event, callback):
    while True:  # never yields: the worker's event loop is blocked
        pass
