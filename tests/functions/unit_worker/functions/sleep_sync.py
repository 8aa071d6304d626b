import os
import time


def handler(context, event, callback):
    time.sleep(float(event.get("delay", "5")))
    return {"pid": os.getpid()}
