def handler(context, event, callback):
    callback(None, "done")
    # Written after the result, without a newline: it must still reach the logs.
    print("printed after the callback", end="")
