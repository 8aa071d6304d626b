import os


def handler(context, event, callback):
    os._exit(7)
