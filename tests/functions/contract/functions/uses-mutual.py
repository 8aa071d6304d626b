"""Loads a private helper that loads another helper that loads the first one back."""


def handler(context, event, callback):
    a = Runtime.get_functions()["lib/mutual-a"].load()  # noqa: F821 - injected global
    callback(None, {"a": a.NAME, "b": a.B.NAME, "b_sees_a": a.B.A is a})
