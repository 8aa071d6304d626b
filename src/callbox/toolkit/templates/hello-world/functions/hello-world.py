"""Public function: GET /<namespace>/hello-world -> "Hello World!" as plain text."""


def handler(context, event, callback):
    # A string answers with Content-Type text/plain.
    callback(None, "Hello World!")
