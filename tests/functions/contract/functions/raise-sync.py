def handler(context, event, callback):
    raise RuntimeError("sync failure")
