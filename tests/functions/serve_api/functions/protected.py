"""Deployed with visibility protected: only requests signed with the auth token get here."""


def handler(context, event, callback):
    callback(None, f"signed {event.get('Body', '')}")
