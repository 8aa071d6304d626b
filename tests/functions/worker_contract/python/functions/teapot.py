def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.set_status_code(418)
    response.set_headers({"X-Custom": "yes"})
    response.append_header("X-Multi", "a").append_header("X-Multi", "b")
    response.set_body({"teapot": True})
    callback(None, response)
