"""Protected function: /<namespace>/webhook, a webhook that only Twilio can call.

callbox checks the request's X-Twilio-Signature against AUTH_TOKEN (from .env) before this
handler runs: a request without a valid signature is answered 403 and never gets here.
"""

from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    parameters = sorted(key for key in event if key != "request")
    print(f"Signed webhook received with parameters: {', '.join(parameters) or 'none'}")
    callback(None, {"received": True, "parameters": parameters})
