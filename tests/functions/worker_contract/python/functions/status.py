def handler(context, event, callback):
    callback(None, Twilio.Response().set_status_code(int(event["status"])))  # noqa: F821
