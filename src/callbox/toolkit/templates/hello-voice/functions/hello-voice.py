"""Public function: /<namespace>/hello-voice, a voice webhook saying "Hello World"."""


def handler(context, event, callback):
    # Twilio is injected by the runtime, as in Twilio Functions; TwiML answers with text/xml.
    twiml = Twilio.twiml.VoiceResponse()  # noqa: F821
    twiml.say("Hello World")
    callback(None, twiml)
