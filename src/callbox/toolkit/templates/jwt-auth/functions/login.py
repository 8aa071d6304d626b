"""Public function: POST /<namespace>/login with `password` -> a JSON Web Token (HS256).

A demo sign-in: the password is PASSWORD from .env; the token is signed with JWT_SECRET and
is what /<namespace>/data asks for in "Authorization: Bearer <token>".
"""

import hmac

from twilio.jwt import Jwt

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event

ISSUER = "callbox-jwt-auth"
TOKEN_SECONDS = 3600
MIN_SECRET_LENGTH = 32


class DemoToken(Jwt):
    """A token whose claims are only the standard ones: iss, sub, nbf and exp."""

    def _generate_payload(self) -> dict[str, object]:
        return {}


def handler(context: Context, event: Event, callback: Callback) -> None:
    secret = context.get("JWT_SECRET") or ""
    password = context.get("PASSWORD") or ""
    if len(secret) < MIN_SECRET_LENGTH or not password:
        callback(
            f"Set PASSWORD and JWT_SECRET (at least {MIN_SECRET_LENGTH} random characters) in "
            ".env to issue tokens."
        )
        return
    given = event.get("password")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), password.encode()):
        response = Twilio.Response()
        response.set_status_code(401)
        response.set_body({"error": "invalid_grant", "error_description": "Wrong password."})
        callback(None, response)
        return
    username = event.get("username")
    subject = username if isinstance(username, str) and username else "demo"
    token = DemoToken(secret, issuer=ISSUER, subject=subject, ttl=TOKEN_SECONDS).to_jwt()
    callback(None, {"token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS})
