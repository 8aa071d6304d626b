def handler(context, event, callback):
    callback(None, "first")
    callback(None, "second")
