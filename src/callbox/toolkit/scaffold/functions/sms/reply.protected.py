"""Protected function: POST /sms/reply.

Requests must carry a valid X-Twilio-Signature (set AUTH_TOKEN in .env),
so point a phone number's "A message comes in" webhook here.
"""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event
def handler(context: Context, event: Event, callback: Callback) -> None:
    # Twilio is injected by the runtime, like in Twilio Functions.
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821
    body = event.get("Body") or ""
    twiml.message(f"You said: {body}" if body else "Send me a message and I'll echo it back.")
    callback(None, twiml)
