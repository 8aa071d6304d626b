"""A module that raises SystemExit while it is imported."""

raise SystemExit(3)


def handler(context, event, callback):
    callback(None, "unreachable")
