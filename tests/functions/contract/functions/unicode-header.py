def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header("X-Greeting", "snowman \u2603")
    response.set_body("never sent")
    callback(None, response)
