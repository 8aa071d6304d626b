"""Public function: /<namespace>/forward-message, an SMS webhook forwarding each message to
MY_PHONE_NUMBER (set in .env) with the sender's number and the text."""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    to = context.get("MY_PHONE_NUMBER")
    if not to:
        callback(
            "MY_PHONE_NUMBER is not set: add the number to forward messages to "
            "(E.164, e.g. +15551234567) to .env."
        )
        return
    # Twilio is injected by the runtime; <Message to="..."> sends the text to that number.
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821
    twiml.message(f"From: {event.get('From', '')}. Body: {event.get('Body', '')}", to=to)
    callback(None, twiml)
