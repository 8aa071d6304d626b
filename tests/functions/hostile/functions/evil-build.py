"""Reports what the evil package's build script could do while it was installed."""

import evilpkg


def handler(context, event, callback):
    return callback(None, evilpkg.RESULTS)
