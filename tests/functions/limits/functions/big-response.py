"""Answers ?size=N bytes of text."""


def handler(context, event, callback):
    callback(None, "x" * int(event["size"]))
