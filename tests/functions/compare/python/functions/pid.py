import uuid

# Made once per worker process (a module is imported once per worker): who answered.
WORKER = uuid.uuid4().hex


def handler(context, event, callback):
    return callback(None, {"worker": WORKER})
