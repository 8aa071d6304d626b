def handler(context, event, callback):
    return Twilio.Response().append_header("X-Greeting", event.get("value", "caf\u00e9 \u260e")).set_body("ok")
