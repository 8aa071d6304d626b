def handler(context, event, callback):
    # The header (or cookie) named and valued by the query: ?name=...&value=...[&cookie=1]
    response = Twilio.Response().set_body("ok")  # noqa: F821 - injected global
    if event.get("cookie"):
        return response.set_cookie(event["name"], event["value"])
    return response.append_header(event["name"], event["value"])
