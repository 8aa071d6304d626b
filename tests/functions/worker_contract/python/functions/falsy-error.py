"""A falsy error is no error: callback(0, x) answers x."""


def handler(context, event, callback):
    callback(0, "zero is no error")
