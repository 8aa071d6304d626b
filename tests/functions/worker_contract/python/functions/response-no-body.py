def handler(context, event, callback):
    callback(None, Twilio.Response().set_status_code(204))  # noqa: F821 - injected global
