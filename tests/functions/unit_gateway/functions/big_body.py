def handler(context, event, callback):
    return "x" * int(event["size"])
