# A build with this function fails: it defines no `handler`, only these two names.
GREETING = "hello"


def respond(context, event, callback):
    return callback(None, GREETING)
