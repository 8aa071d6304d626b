def handler(context, event, callback):
    client = context.get_twilio_client()
    callback(None, type(client).__name__)
