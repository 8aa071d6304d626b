"""Public function: /<namespace>/basic-auth, answering only requests that carry
"Authorization: Basic ..." with the USERNAME and PASSWORD set in .env."""

import base64
import binascii
import hmac

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    username = context.get("USERNAME") or ""
    password = context.get("PASSWORD") or ""
    if not username or not password:
        callback("USERNAME and PASSWORD are not set: add both to .env to use this function.")
        return
    if not _authorized(_header(event, "authorization"), username, password):
        # Twilio is injected by the runtime; WWW-Authenticate makes browsers ask for a login.
        response = Twilio.Response()  # noqa: F821
        response.set_status_code(401)
        response.append_header("WWW-Authenticate", 'Basic realm="callbox", charset="UTF-8"')
        response.append_header("Content-Type", "text/plain; charset=utf-8")
        response.set_body("Unauthorized: a valid username and password are required.")
        callback(None, response)
        return
    callback(None, {"message": f"Hello {username}, you are signed in."})


def _header(event: Event, name: str) -> str | None:
    # A query or body parameter called "request" replaces event["request"]; then no headers.
    request = event.get("request")
    headers = request.get("headers") if isinstance(request, dict) else None
    value = headers.get(name) if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None  # a repeated header (a list) is refused


def _authorized(header: str | None, username: str, password: str) -> bool:
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, separator, given_password = decoded.partition(":")
    # compare_digest takes as long whatever the input, so timing reveals nothing; both
    # comparisons always run so the answer time does not tell whether the username was right.
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return bool(separator) and user_ok and password_ok
