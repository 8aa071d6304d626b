def handler(context, event, callback):
    response = Twilio.Response()
    for i in range(100):
        response.append_header(f"X-Header-{i}", "v" * 200)
    callback(None, response)
