def handler(context, event, callback):
    return {"secret": "revealed", "Body": event.get("Body"), "To": event.get("To")}
