def handler(context, event, callback):
    while True:
        pass
