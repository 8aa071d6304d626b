def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.setCookie("a;b", "c d")
    response.set_body("never sent")
    callback(None, response)
