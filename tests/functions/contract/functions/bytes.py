"""bytes -> 200 application/octet-stream."""


def handler(context, event, callback):
    callback(None, b"\x00\x01binary\xff")
