def handler(context, event, callback):
    callback("the order service said no")
