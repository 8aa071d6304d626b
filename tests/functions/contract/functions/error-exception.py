def handler(context, event, callback):
    callback(ValueError("bad value from the function"))
