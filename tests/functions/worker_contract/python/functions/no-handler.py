"""A typo: the entry point is called `handle`, so there is no `handler`."""

CONSTANT = 1


def helper():
    return "helper"


def handle(context, event, callback):
    callback(None, "never reached")
