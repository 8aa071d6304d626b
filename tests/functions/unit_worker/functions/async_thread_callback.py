import threading


async def handler(context, event, callback):
    threading.Timer(0.15, callback, args=(None, {"from": "thread", "mode": "async"})).start()
