def handler(context, event, callback):
    return None
