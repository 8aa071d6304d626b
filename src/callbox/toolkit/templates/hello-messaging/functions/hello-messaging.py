"""Public function: /<namespace>/hello-messaging, an SMS webhook replying "Hello World"."""


def handler(context, event, callback):
    # Twilio is injected by the runtime, as in Twilio Functions; TwiML answers with text/xml.
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821
    twiml.message("Hello World")
    callback(None, twiml)
