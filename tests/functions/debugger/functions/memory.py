def handler(context, event, callback):
    hoard = []
    while True:
        hoard.append(bytearray(8 << 20))
