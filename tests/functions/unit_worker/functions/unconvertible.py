def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.headers = None  # cannot be turned into HTTP headers
    callback(None, response)
