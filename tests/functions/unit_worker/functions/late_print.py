import time


def handler(context, event, callback):
    callback(None, "answered")
    time.sleep(0.2)
    print(f"written after the response by {event.get('tag')}")
