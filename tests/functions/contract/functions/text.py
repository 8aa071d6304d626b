"""str -> 200 text/plain."""


def handler(context, event, callback):
    callback(None, "Hello, text")
