"""A Python convenience: returning a value without calling callback answers with it."""


def handler(context, event, callback):
    return {"returned": True}
