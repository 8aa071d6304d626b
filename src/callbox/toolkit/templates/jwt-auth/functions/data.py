"""Public function: /<namespace>/data, answering only requests with
"Authorization: Bearer <token>" where the token comes from /<namespace>/login (or anyone else
holding JWT_SECRET). A missing, forged or expired token gets 401."""

from twilio.jwt import Jwt, JwtDecodeError

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event, Response

ISSUER = "callbox-jwt-auth"
MIN_SECRET_LENGTH = 32


def handler(context: Context, event: Event, callback: Callback) -> None:
    secret = context.get("JWT_SECRET") or ""
    # An empty key would make Jwt.from_jwt skip the signature check: refuse to run without one.
    if len(secret) < MIN_SECRET_LENGTH:
        callback(f"Set JWT_SECRET (at least {MIN_SECRET_LENGTH} random characters) in .env.")
        return
    token = _bearer_token(event)
    if token is None:
        callback(None, _unauthorized("Send the token as 'Authorization: Bearer <token>'."))
        return
    try:
        # Checks the HS256 signature with JWT_SECRET and the exp and nbf times.
        claims = Jwt.from_jwt(token, secret).payload
    except JwtDecodeError as exc:
        callback(None, _unauthorized(f"The token is not valid: {exc}."))
        return
    if "exp" not in claims or claims.get("iss") != ISSUER:
        callback(None, _unauthorized("The token has no expiry time or another issuer."))
        return
    callback(None, {"message": f"Hello {claims.get('sub', 'there')}!", "expires": claims["exp"]})


def _bearer_token(event: Event) -> str | None:
    # A query or body parameter called "request" replaces event["request"]; then no headers.
    request = event.get("request")
    headers = request.get("headers") if isinstance(request, dict) else None
    value = headers.get("authorization") if isinstance(headers, dict) else None
    if not isinstance(value, str):  # missing, or repeated (a list)
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unauthorized(description: str) -> Response:
    response = Twilio.Response()
    response.set_status_code(401)
    response.append_header("WWW-Authenticate", 'Bearer realm="callbox", error="invalid_token"')
    response.set_body({"error": "invalid_token", "error_description": description})
    return response
