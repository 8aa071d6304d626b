"""A cookie whose Max-Age has more digits than int() accepts."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("big", "1", ["Max-Age=" + "9" * 5000])
    response.set_body("never sent")
    callback(None, response)
