"""?tag=T answers at once and logs a line once ?release=T is called (a later invocation)."""

import threading

GATES: dict[str, threading.Event] = {}


def handler(context, event, callback):
    if "release" in event:
        GATES.setdefault(event["release"], threading.Event()).set()
        callback(None, "released")
        return
    gate = GATES.setdefault(event["tag"], threading.Event())
    callback(None, "done")
    gate.wait(5)
    print("printed after the result")
