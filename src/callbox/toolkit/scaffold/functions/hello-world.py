"""Public function: GET /hello-world[?name=Ada]."""

from callbox.runtime.types import Callback, Context, Event
def handler(context: Context, event: Event, callback: Callback) -> None:
    # GREETING comes from .env; fall back so the function works without it.
    greeting = getattr(context, "GREETING", None) or "Hello"
    name = event.get("name") or "World"
    print(f"hello-world called with name={name!r}")
    callback(None, f"{greeting} {name}!")
