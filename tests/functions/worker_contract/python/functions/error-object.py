def handler(context, event, callback):
    callback({"code": 123, "detail": "object error"})
