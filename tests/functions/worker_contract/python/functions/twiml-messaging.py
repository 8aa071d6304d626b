def handler(context, event, callback):
    twiml = Twilio.twiml.MessagingResponse()  # noqa: F821 - injected global
    twiml.message("Hi there")
    callback(None, twiml)
