"""A Twilio.Response whose headers were replaced by None: it cannot be converted."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.headers = None
    callback(None, response)
