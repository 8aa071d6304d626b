def handler(context, event, callback):
    callback(None, "answer-00")
