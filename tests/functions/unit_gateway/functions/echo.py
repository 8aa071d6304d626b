def handler(context, event, callback):
    return {
        "event": {key: value for key, value in event.items() if key != "request"},
        "path": context.PATH,
        "domain": context.DOMAIN_NAME,
        "greeting": context.get("GREETING"),
    }
