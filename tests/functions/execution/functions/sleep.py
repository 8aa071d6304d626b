"""Sync code that sleeps far past the execution limit."""

import os
import time


def handler(context, event, callback):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    callback(None, "woke up")
