"""callback(None) -> 200 with an empty body."""


def handler(context, event, callback):
    callback(None)
