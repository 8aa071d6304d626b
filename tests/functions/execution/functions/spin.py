"""A sync CPU loop that never ends."""

import os


def handler(context, event, callback):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        pass
