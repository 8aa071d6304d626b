def handler(context, event, callback):
    return {"service_sid": context.SERVICE_SID, "environment_sid": context.get("ENVIRONMENT_SID")}
