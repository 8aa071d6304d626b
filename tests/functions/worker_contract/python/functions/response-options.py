def handler(context, event, callback):
    response = Twilio.Response(  # noqa: F821 - injected global
        {"statusCode": 201, "body": "created", "headers": {"X-From": "options"}}
    )
    callback(None, response)
