"""Answers with the event it received, as JSON."""


def handler(context, event, callback):
    callback(None, event)
