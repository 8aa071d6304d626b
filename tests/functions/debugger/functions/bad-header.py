def handler(context, event, callback):
    response = Twilio.Response()
    response.append_header("Bad Name", "v")
    callback(None, response)
