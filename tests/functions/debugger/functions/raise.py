"""An exception: an ERROR line with the traceback, a 500, alerts 82005 and 82002."""


def lookup(name):
    return {"known": 1}[name]


def handler(context, event, callback):
    return callback(None, {"value": lookup(event.get("name", "missing-key"))})
