"""Answers with a URL built from DOMAIN_NAME, as functions build links back to themselves."""


def handler(context, event, callback):
    callback(None, {"url": f"http://{context.DOMAIN_NAME}{context.PATH}"})
