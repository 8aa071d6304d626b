import os


def handler(context, event, callback):
    os._exit(3)  # the process ends at once: no exception, no cleanup
