def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("flavor", "oat", ["Max-Age=90000"])
    response.set_body("should not be sent")
    callback(None, response)
