def handler(context, event, callback):
    callback("Something broke")
