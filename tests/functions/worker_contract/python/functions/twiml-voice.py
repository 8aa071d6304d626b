def handler(context, event, callback):
    twiml = Twilio.twiml.VoiceResponse()  # noqa: F821 - injected global
    twiml.say("Never gonna give you up", voice="alice")
    twiml.play("https://demo.twilio.com/docs/classic.mp3")
    callback(None, twiml)
