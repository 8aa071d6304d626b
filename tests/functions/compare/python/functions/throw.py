class BadValue(Exception):
    pass


def handler(context, event, callback):
    raise BadValue("boom")
