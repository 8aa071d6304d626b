def handler(context, event, callback):
    return "fine so far"


def broken(:
    pass
