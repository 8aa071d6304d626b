"""Says which release it is; tests upload it with RELEASE replaced to tell builds apart."""

RELEASE = "first"


def handler(context, event, callback):
    callback(None, f"release {RELEASE}")
