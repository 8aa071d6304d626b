def handler(context, event, callback):
    return callback(None, {"hello": event.get("name", "world"), "path": context.PATH})
