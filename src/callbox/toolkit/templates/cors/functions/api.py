"""Public function: /<namespace>/api?name=Ada -> {"message": "Hello Ada!"}, a JSON API that web
pages served from ALLOWED_ORIGIN (in .env) may call with fetch()."""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    # Twilio is injected by the runtime; Twilio.Response lets us add headers.
    response = Twilio.Response()  # noqa: F821
    origin = _header(event, "origin")
    allowed = _allowed_origin(context.get("ALLOWED_ORIGIN") or "", origin)
    if allowed is not None:
        response.append_header("Access-Control-Allow-Origin", allowed)
    if allowed != "*":
        # The answer depends on the Origin header: caches must not share it between origins.
        response.append_header("Vary", "Origin")
    name = event.get("name")
    name = name.strip() if isinstance(name, str) and name.strip() else "World"
    response.set_body({"message": f"Hello {name}!"})
    callback(None, response)


def _allowed_origin(setting: str, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value: "*", the caller's origin if listed, or None."""
    allowed = [item.strip().rstrip("/") for item in setting.split(",") if item.strip()]
    if "*" in allowed:
        return "*"
    if origin is not None and origin.rstrip("/") in allowed:
        return origin
    return None


def _header(event: Event, name: str) -> str | None:
    # A query or body parameter called "request" replaces event["request"]; then no headers.
    request = event.get("request")
    headers = request.get("headers") if isinstance(request, dict) else None
    value = headers.get(name) if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None
