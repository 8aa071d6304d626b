def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header("X-Int", 5).append_header("X-Bool", True)
    response.append_header("X-Float", 1.5).append_header("X-List", ["a", "b"])
    response.set_body(["not", "text"])
    callback(None, response)
