def handler(context, event, callback):
    callback(None, "Hello, text")
