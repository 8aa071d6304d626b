"""Twilio.Response with a status, headers and a dict body (explicit import of the globals)."""

from callbox.runtime import Twilio


def handler(context, event, callback):
    response = Twilio.Response()
    response.set_status_code(418)
    response.set_headers({"X-Custom": "yes"})
    response.append_header("X-Multi", "a").append_header("X-Multi", "b")
    response.set_body({"teapot": True})
    callback(None, response)
