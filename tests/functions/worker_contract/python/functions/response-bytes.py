def handler(context, event, callback):
    callback(None, Twilio.Response().set_body(b"\x89PNG"))  # noqa: F821 - injected global
