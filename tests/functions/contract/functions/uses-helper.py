def handler(context, event, callback):
    helper = Runtime.get_functions()["lib/helper"].load()  # noqa: F821 - injected global
    callback(None, helper.shout("hello from the helper"))
