def handler(context, event, callback):
    hog = bytearray(4 * 1024 * 1024 * 1024)
    return len(hog)
