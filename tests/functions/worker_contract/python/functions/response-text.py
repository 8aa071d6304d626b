def handler(context, event, callback):
    callback(None, Twilio.Response().set_status_code(200).set_body("This is fine"))  # noqa: F821
