def handler(context, event, callback):
    callback(None, "Grüße, 世界 ☃")
