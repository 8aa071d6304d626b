def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header("Content-Type", "application/json")
    response.set_body({"everything": "is alright"})
    callback(None, response)
