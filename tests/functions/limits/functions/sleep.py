import time


def handler(context, event, callback):
    time.sleep(0.5)
    callback(None, "slept")
