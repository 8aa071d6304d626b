def handler(context, event, callback):
    callback(
        None,
        {
            "DOMAIN_NAME": context.DOMAIN_NAME,
            "PATH": context.PATH,
            "GREETING": context.GREETING,
            "SERVICE_SID": context.SERVICE_SID,
            "ENVIRONMENT_SID": context.ENVIRONMENT_SID,
        },
    )
