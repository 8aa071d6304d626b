"""SERVICE_SID and ENVIRONMENT_SID are unset (None) in local development."""


def handler(context, event, callback):
    callback(None, {"SERVICE_SID": context.SERVICE_SID, "ENVIRONMENT_SID": context.ENVIRONMENT_SID})
