import callbox_unit_no_such_module  # noqa: F401


def handler(context, event, callback):
    return "unreachable"
