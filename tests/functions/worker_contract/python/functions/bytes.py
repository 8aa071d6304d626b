def handler(context, event, callback):
    callback(None, bytes([0, 1, 98, 105, 110, 255]))
