def handler(context, event, callback):
    return "loaded"
