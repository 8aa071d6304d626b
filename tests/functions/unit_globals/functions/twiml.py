def handler(context, event, callback):
    twiml = Twilio.twiml.MessagingResponse()
    twiml.message(f"Hello {event.get('From', 'there')}")
    return callback(None, twiml)
