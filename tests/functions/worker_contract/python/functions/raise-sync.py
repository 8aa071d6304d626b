class SyncFailure(Exception):
    pass


def handler(context, event, callback):
    raise SyncFailure("sync failure")
