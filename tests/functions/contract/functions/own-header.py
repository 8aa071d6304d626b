"""Sets the header named by ?name= to ?value= on a "hello world" body."""


def handler(context, event, callback):
    response = Twilio.Response()  # noqa: F821 - injected global
    response.append_header(event["name"], event["value"])
    response.set_body("hello world")
    callback(None, response)
