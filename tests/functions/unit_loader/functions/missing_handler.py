import json
import os.path
from collections import OrderedDict

GREETING = "hello"
_PRIVATE = "not listed: starts with an underscore"
retries = 3


def handle(context, event, callback):  # a near miss: the name must be `handler`
    return json.dumps(OrderedDict(greeting=GREETING))


class Reply:
    pass
