def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header("X-Object", {"not": "allowed"})
    callback(None, response)
