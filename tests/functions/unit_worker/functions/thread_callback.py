import threading


def handler(context, event, callback):
    # Nothing is returned: the invocation ends when the timer thread calls back.
    threading.Timer(0.15, callback, args=(None, "called back from a thread")).start()
    return None
