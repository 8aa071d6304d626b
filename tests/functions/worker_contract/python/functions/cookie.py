def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("flavor", "oat", ["Domain=evil.example", "Path=/"])
    response.set_cookie("old", "x")
    response.remove_cookie("old")
    response.set_body("cookies set")
    callback(None, response)
