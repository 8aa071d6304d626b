"""Public function: /<namespace>/hello-voice, a voice webhook saying "Hello World"."""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    # Twilio is injected by the runtime, as in Twilio Functions; TwiML answers with text/xml.
    twiml = Twilio.twiml.VoiceResponse()  # noqa: F821
    twiml.say("Hello World")
    callback(None, twiml)
