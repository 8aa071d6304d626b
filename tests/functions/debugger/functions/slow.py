import time


def handler(context, event, callback):
    time.sleep(30)
    callback(None, "too late")
