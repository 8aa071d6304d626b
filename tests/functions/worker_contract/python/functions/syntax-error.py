def handler(context, event, callback)
    callback(None, "never reached")
