"""Sets one cookie with the attribute given as ?attribute=."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("flavor", "oat", [event["attribute"]])
    response.set_body("should not be sent")
    callback(None, response)
