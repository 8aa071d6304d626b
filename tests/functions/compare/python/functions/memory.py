def handler(context, event, callback):
    hoard = []
    while True:  # far past the worker's memory limit
        hoard.append(bytearray(16 * 1024 * 1024))
