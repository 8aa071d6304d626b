"""A status given as text is not a status."""


def handler(context, event, callback):
    callback(None, Twilio.Response().set_status_code("201"))  # noqa: F821 - injected global
