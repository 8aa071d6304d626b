def handler(context, event, callback):
    callback(None, f"sync callback for {event.get('name', 'nobody')}")
    return "ignored: the callback came first"
