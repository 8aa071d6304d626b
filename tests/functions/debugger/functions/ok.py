def handler(context, event, callback):
    callback(None, "ok")
