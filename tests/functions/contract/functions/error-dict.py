def handler(context, event, callback):
    callback({"code": 123, "detail": "dict error"})
