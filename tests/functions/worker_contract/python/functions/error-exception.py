class BadValue(Exception):
    pass


def handler(context, event, callback):
    callback(BadValue("bad value from the function"))
