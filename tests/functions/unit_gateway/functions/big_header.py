def handler(context, event, callback):
    size = int(event.get("size", str(16 * 1024)))
    return Twilio.Response().append_header("X-Big", "v" * size).set_body("big header")
