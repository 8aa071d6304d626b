"""A handler annotated with callbox's types: mypy --strict accepts it."""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    name = str(event.get("name", "there"))
    response = Twilio.Response()
    response.set_status_code(201).append_header("X-Greeting", name)
    response.set_body({"message": f"Hello, {name}!", "left_ms": context.get_remaining_time()})
    callback(None, response)
