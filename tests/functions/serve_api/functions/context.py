"""Answers with everything its context holds: SIDs, domain, path, variables, credentials."""


def handler(context, event, callback):
    callback(None, dict(context))
