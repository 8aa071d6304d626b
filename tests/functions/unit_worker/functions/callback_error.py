def handler(context, event, callback):
    callback("the function reported an error", "never sent")
