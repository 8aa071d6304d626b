def handler(context, event, callback):
    count = int(event.get("count", "100"))
    response = Twilio.Response()
    for index in range(count):
        response.append_header(f"X-Header-{index}", "value")
    return response.set_body("many headers")
