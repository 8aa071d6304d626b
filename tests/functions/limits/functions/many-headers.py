"""Answers with ?count=N custom headers."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    for index in range(int(event["count"])):
        response.append_header(f"X-Header-{index}", "value")
    response.set_body("headers")
    callback(None, response)
