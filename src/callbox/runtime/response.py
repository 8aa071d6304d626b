"""Turn what a Function passes to ``callback(error, response)`` into an HTTP result.

Also home of :class:`Response`, the Python twin of ``Twilio.Response``. Its header
semantics follow Twilio's own runtime; the cookie limits follow Twilio's documented
"Limitations" (HttpOnly and Secure forced, Domain pinned, at most one day of life), and each
cookie's name=value must be valid RFC 6265 syntax.

Stdlib only: this module is imported by user worker processes, so ``twilio`` is never
imported here; TwiML is recognised only if the user's code already loaded it.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "HttpResult",
    "Response",
    "is_twiml",
    "render_error",
    "render_success",
]

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json; charset=utf-8"
_XML = "text/xml; charset=utf-8"
_BINARY = "application/octet-stream"

_SET_COOKIE = "Set-Cookie"
_MAX_COOKIE_AGE = 86400
_COOKIE_TOO_OLD = "Cookies max-age cannot be greater than a day"
_MAX_AGE_RE = re.compile(r"-?\d+")
# RFC 6265 section 4.1.1: cookie-name is a token; cookie-value is cookie-octets, maybe quoted.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_COOKIE_VALUE = re.compile(f'{_COOKIE_OCTETS}|"{_COOKIE_OCTETS}"')

_JSON_TYPES = (dict, list, tuple, int, float, bool)
_BYTES_TYPES = (bytes, bytearray, memoryview)


class Response:
    """``Twilio.Response``: a status code, a body and headers, built up by chaining.

    ``headers`` always holds a ``"Set-Cookie"`` list. Every mutator returns ``self``
    and has a camelCase alias so code ported from Node reads the same.
    """

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        status_code: int | None = None,
        body: Any = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        self.status_code: int = 200
        self.body: Any = None
        self.headers: dict[str, Any] = {_SET_COOKIE: []}
        # The options dict mirrors Node's `new Response({statusCode, body, headers})`;
        # keyword arguments are applied afterwards so they win over it.
        opts = options or {}
        for code, content, hdrs in (
            (opts.get("statusCode"), opts.get("body"), opts.get("headers")),
            (status_code, body, headers),
        ):
            if code is not None:
                self.set_status_code(code)
            if content is not None:
                self.set_body(content)
            if hdrs is not None:
                self.set_headers(hdrs)

    def __repr__(self) -> str:
        return (
            f"Response(status_code={self.status_code!r}, body={self.body!r}, "
            f"headers={self.headers!r})"
        )

    def set_status_code(self, code: int) -> Response:
        self.status_code = code
        return self

    def set_body(self, body: Any) -> Response:
        self.body = body
        return self

    def append_header(self, key: str, value: Any) -> Response:
        if isinstance(value, Mapping):
            raise TypeError("Header value cannot be an object")
        if key.lower() == "set-cookie":
            self.headers.setdefault(_SET_COOKIE, []).extend(_as_list(value))
            return self
        existing = self.headers.get(key)
        if existing is None:
            self.headers[key] = value
        else:
            # A repeated header becomes one flat list, as in Twilio's runtime.
            self.headers[key] = _as_list(existing) + _as_list(value)
        return self

    def set_headers(self, headers: Mapping[str, Any] | None) -> Response:
        if not isinstance(headers, Mapping):
            return self
        self.headers = {_SET_COOKIE: []}
        for key, value in headers.items():
            self.append_header(key, value)
        return self

    def set_cookie(self, key: str, value: str, attributes: list[str] | None = None) -> Response:
        # Joined verbatim, like Twilio: no encoding, no spaces after ';'.
        cookie = ";".join([f"{key}={value}", *(attributes or [])])
        return self.append_header(_SET_COOKIE, cookie)

    def remove_cookie(self, key: str) -> Response:
        prefix = f"{key}="
        cookies = self.headers.get(_SET_COOKIE, [])
        self.headers[_SET_COOKIE] = [c for c in cookies if not str(c).startswith(prefix)]
        return self.append_header(_SET_COOKIE, f"{key}=;Max-Age=0")

    # camelCase names from the Node API.
    setStatusCode = set_status_code
    setBody = set_body
    appendHeader = append_header
    setHeaders = set_headers
    setCookie = set_cookie
    removeCookie = remove_cookie


@dataclass
class HttpResult:
    """A wire-ready result: status, ordered header lines, encoded body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # Why a response the function gave was refused (the 500 it became), for its ERROR line.
    rejected: str | None = None


class _Rejected(Exception):
    """Internal: the response breaks a rule; carries the status and message to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_twiml(value: Any) -> bool:
    """True for instances of ``twilio.twiml.TwiML`` (VoiceResponse, MessagingResponse...)."""
    # No instance can exist unless twilio.twiml was imported, so never import it here.
    module = sys.modules.get("twilio.twiml")
    twiml_class = getattr(module, "TwiML", None)
    return isinstance(twiml_class, type) and isinstance(value, twiml_class)


def render_success(payload: Any, *, domain: str) -> HttpResult:
    """Render ``callback(None, payload)``; ``domain`` is the host cookies are pinned to."""
    try:
        if isinstance(payload, Response):
            return _render_response(payload, domain)
        if payload is None:
            return HttpResult(200, [], b"")
        body, content_type = _encode_body(payload)
    except _Rejected as rejected:
        if rejected.status == 500:
            result = render_error(rejected.message, include_stack=False)
            result.rejected = rejected.message
            return result
        return HttpResult(rejected.status, [("Content-Type", _TEXT)], rejected.message.encode())
    return HttpResult(200, [("Content-Type", content_type)], body)


def render_error(error: Any, *, include_stack: bool) -> HttpResult:
    """Render ``callback(error)`` or an exception raised by a handler: always a 500."""
    payload: Any
    if isinstance(error, BaseException):
        payload = {"message": _safe_str(error), "name": type(error).__name__}
        if include_stack:
            payload["stack"] = "".join(traceback.format_exception(error))
    elif isinstance(error, str):
        payload = {"message": error, "name": "Error"}
    elif isinstance(error, dict):
        payload = error
    else:
        payload = {"message": _safe_str(error), "name": type(error).__name__}
    try:
        body = _dump_json(payload)
    except (TypeError, ValueError, RecursionError):
        body = _dump_json({"message": _safe_repr(error), "name": "Error"})
    return HttpResult(500, [("Content-Type", _JSON)], body)


def _render_response(response: Response, domain: str) -> HttpResult:
    status = response.status_code
    # bool is an int subclass but never a meaningful status.
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise _Rejected(
            500,
            f"The function answered status {status!r}; a response status must be 200-599.",
        )

    lines: list[tuple[str, str]] = []
    host = _strip_port(domain)
    for name, value in response.headers.items():
        name = str(name)
        values = _as_list(value)
        if name.lower() == "set-cookie":
            values = [_enforce_cookie_rules(str(cookie), host) for cookie in values]
        for item in values:
            if item is not None:
                lines.append((name, _header_value(item)))
    # Header names and values are checked by the gateway, which writes them (any worker's).
    if response.body is None:
        return HttpResult(status, lines, b"")
    body, content_type = _encode_body(response.body)
    if not any(name.lower() == "content-type" for name, _ in lines):
        lines.append(("Content-Type", content_type))
    return HttpResult(status, lines, body)


def _encode_body(value: Any) -> tuple[bytes, str]:
    """Encode a non-None body and pick the Content-Type it implies."""
    if isinstance(value, str):
        return value.encode(), _TEXT
    if isinstance(value, _BYTES_TYPES):
        return bytes(value), _BINARY
    if is_twiml(value):
        return str(value).encode(), _XML
    try:
        return _dump_json(value), _JSON
    except (TypeError, ValueError, RecursionError) as exc:
        raise _Rejected(500, f"The function's response could not be converted: {exc}") from exc


def _dump_json(value: Any) -> bytes:
    # allow_nan=False: NaN/Infinity would produce a body no JSON client can parse.
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


def _enforce_cookie_rules(cookie: str, host: str) -> str:
    """Apply Twilio's cookie limits to one Set-Cookie line, or raise ``_Rejected``."""
    pair, *raw_attributes = cookie.split(";")
    cookie_name, equals, cookie_value = pair.strip().partition("=")
    if not (
        equals and _COOKIE_NAME.fullmatch(cookie_name) and _COOKIE_VALUE.fullmatch(cookie_value)
    ):
        raise _Rejected(
            500,
            f"The cookie {cookie!r} is not valid (RFC 6265): it must start with name=value, the "
            "name made of letters, digits and !#$%&'*+-.^_`|~, the value without spaces, "
            "quotes, commas, semicolons, backslashes or control characters (encode it, e.g. "
            "with urllib.parse.quote).",
        )
    attributes: list[str] = []
    max_age: str | None = None
    expires: str | None = None
    present: set[str] = set()
    for raw in raw_attributes:
        attribute = raw.strip()
        if not attribute:
            continue
        name, _, value = attribute.partition("=")
        key = name.strip().lower()
        if key == "domain":
            continue  # replaced below by the deployment's own domain
        if key == "max-age":
            max_age = value.strip()  # the last one counts, as in browsers
        elif key == "expires":
            expires = value.strip()
        present.add(key)
        attributes.append(attribute)

    if max_age is not None:
        if not _MAX_AGE_RE.fullmatch(max_age):
            raise _Rejected(400, f"Cookie has an invalid Max-Age attribute: {max_age!r}")
        # Compared as text first: int() refuses very long digit strings.
        digits = max_age.lstrip("+-").lstrip("0")
        if len(digits) > len(str(_MAX_COOKIE_AGE)) or int(max_age) > _MAX_COOKIE_AGE:
            raise _Rejected(400, _COOKIE_TOO_OLD)
    elif expires is not None:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            raise _Rejected(400, f"Cookie has an invalid Expires attribute: {expires!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # "-0000" dates are UTC
        if when - datetime.now(UTC) > timedelta(seconds=_MAX_COOKIE_AGE):
            raise _Rejected(400, _COOKIE_TOO_OLD)

    if host:
        attributes.append(f"Domain={host}")
    if "httponly" not in present:
        attributes.append("HttpOnly")
    if "secure" not in present:
        attributes.append("Secure")
    return ";".join([pair.strip(), *attributes])


def _strip_port(domain: str) -> str:
    if domain.startswith("["):  # bracketed IPv6 literal, e.g. "[::1]:3000"
        end = domain.find("]")
        return domain[: end + 1] if end != -1 else domain
    return domain.split(":", 1)[0]


def _header_value(value: Any) -> str:
    # Spell booleans and whole floats the way Node would.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _safe_str(value: Any) -> str:
    # A broken __str__ must not turn an error report into a second crash.
    try:
        return str(value)
    except Exception:
        return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
