def handler(context, event, callback):
    return callback(None, {"remaining": context.get_remaining_time(), "alias": context.getRemainingTime()})
