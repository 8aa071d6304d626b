import contractdep


def handler(context, event, callback):
    callback(None, contractdep.describe("python"))
