"""Calls back with "done", then spins forever on its handler thread (pid written to ?pidfile=)."""

import os


def handler(context, event, callback):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    callback(None, "done")
    while True:
        pass
