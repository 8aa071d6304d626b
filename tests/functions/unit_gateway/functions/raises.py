def handler(context, event, callback):
    raise RuntimeError("the gateway sample failed on purpose")
