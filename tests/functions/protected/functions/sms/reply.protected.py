"""A protected webhook: answers TwiML echoing the message Body."""


def handler(context, event, callback):
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821 - injected global
    twiml.message(f"You said: {event.get('Body', '')}")
    callback(None, twiml)
