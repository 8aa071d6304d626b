import callbox_no_such_module_xyz  # noqa: F401


def handler(context, event, callback):
    callback(None, "never reached")
