"""Public function: /<namespace>/blank. Replace the body with your own code."""

from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    # context: every variable of .env as an attribute (context.MY_VARIABLE), plus DOMAIN_NAME
    #   and PATH; context.get_twilio_client() returns a Twilio REST client (it needs
    #   ACCOUNT_SID and AUTH_TOKEN in .env).
    # event: the query string and the form or JSON body merged into one dict (body keys win),
    #   plus event["request"] with the request's "headers" (lower-case names) and "cookies".
    # callback(error, response): call it once. callback(None, value) answers with value: a
    #   str is text, a dict or list is JSON, TwiML is XML and Twilio.Response sets the status,
    #   headers and body. callback(error) answers 500.
    callback(None, {})
