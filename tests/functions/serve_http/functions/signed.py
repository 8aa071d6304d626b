"""A protected function: reached only with a valid X-Twilio-Signature."""


def handler(context, event, callback):
    callback(None, f"signed {event.get('Body', '')}")
