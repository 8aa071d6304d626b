def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("flavor", "oat", ["Domain=evil.example", "Path=/"])
    response.set_body("cookie set")
    callback(None, response)
