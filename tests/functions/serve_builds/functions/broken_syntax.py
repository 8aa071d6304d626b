# A build with this function fails: the `def` line lacks its colon.
def handler(context, event, callback)
    return callback(None, "never served")
