import threading


def handler(context, event, callback):
    callback(None, "first wins")
    # A second callback long after the response went out: it becomes a late log line.
    threading.Timer(0.2, callback, args=(None, "too late")).start()
