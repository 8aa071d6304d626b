def handler(context, event, callback):
    client = context.get_twilio_client()
    callback(None, {"account_sid": client.account_sid})
