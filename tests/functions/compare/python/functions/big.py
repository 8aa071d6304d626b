def handler(context, event, callback):
    return callback(None, "x" * (5 * 1024 * 1024))
