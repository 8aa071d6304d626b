"""State kept in a cookie (the seeds' cookie-state example): each visit counts one more."""


def handler(context, event, callback):
    count = int(event["request"]["cookies"].get("count", "0")) + 1
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_cookie("count", str(count), ["Max-Age=3600", "Path=/"])
    response.set_body({"count": count})
    callback(None, response)
