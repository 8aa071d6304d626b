def handler(context, event, callback):
    twiml = Twilio.twiml.VoiceResponse()  # noqa: F821 - injected global
    twiml.hangup()
    callback(None, Twilio.Response().set_status_code(202).set_body(twiml))  # noqa: F821
