def handler(context, event, callback):
    raise ValueError("sync handler failed on purpose")
