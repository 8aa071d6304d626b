import os


async def handler(context, event, callback):
    callback(None, {"hello": True, "pid": os.getpid()})
