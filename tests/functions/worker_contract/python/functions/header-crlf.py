def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header("X-Smuggle", "a\r\nSet-Cookie: evil=1")
    callback(None, response)
