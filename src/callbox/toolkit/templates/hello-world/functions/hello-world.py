"""Public function: GET /<namespace>/hello-world -> "Hello World!" as plain text."""

from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    # A string answers with Content-Type text/plain.
    callback(None, "Hello World!")
