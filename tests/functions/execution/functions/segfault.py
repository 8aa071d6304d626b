import ctypes


def handler(context, event, callback):
    ctypes.string_at(0)
