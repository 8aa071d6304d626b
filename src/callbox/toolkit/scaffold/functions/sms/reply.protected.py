"""Protected function: POST /sms/reply.

Requests must carry a valid X-Twilio-Signature (set AUTH_TOKEN in .env),
so point a phone number's "A message comes in" webhook here.
"""


def handler(context, event, callback):
    # Twilio is injected by the runtime, like in Twilio Functions.
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821
    body = event.get("Body") or ""
    twiml.message(f"You said: {body}" if body else "Send me a message and I'll echo it back.")
    callback(None, twiml)
