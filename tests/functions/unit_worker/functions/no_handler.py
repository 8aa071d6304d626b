import json

GREETING = "hello"


def helper():
    return json.dumps({})


class Thing:
    pass
