"""Answers the status given as ?status=, with the body given as ?body= (if any)."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_status_code(int(event["status"]))
    if "body" in event:
        response.set_body(event["body"])
    callback(None, response)
