def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.appendHeader("Bad Name", "v")
    response.set_body("never sent")
    callback(None, response)
