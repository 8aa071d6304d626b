def handler(context, event, callback):
    callback(None, "x" * (5 * 1024 * 1024))
