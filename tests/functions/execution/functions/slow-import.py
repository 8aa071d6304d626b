"""A module whose import takes 2 s."""

import time

time.sleep(2)


def handler(context, event, callback):
    callback(None, "imported")
