"""Turn an HTTP request into the ``event`` dict a Twilio Function receives.

Twilio flattens query parameters and the parsed body into one dict and adds
``event.request`` with the (filtered) headers and cookies. Body keys beat query keys,
and either may replace ``request`` itself; we keep that quirk for compatibility.

Stdlib only: this module is imported by user worker processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "RESTRICTED_HEADERS",
    "RESTRICTED_PREFIXES",
    "EventError",
    "build_event",
    "parse_body",
    "parse_cookies",
    "parse_headers",
    "parse_query",
]


class EventError(ValueError):
    """A malformed request body; the message is shown to the client with status 400."""


# Hop-by-hop and proxy/infrastructure headers Twilio never passes to a Function.
RESTRICTED_HEADERS: frozenset[str] = frozenset(
    {
        "connection",
        "proxy-connection",
        "expect",
        "host",
        "proxy-authorization",
        "proxy-authenticate",
        "referer",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "x-real-ip",
    }
)
RESTRICTED_PREFIXES: tuple[str, ...] = (
    "i-twilio-",
    "i-t-",
    "ot-",
    "x-amz",
    "x-forwarded-",
    "x-accel-",
)

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
# RFC 8259 whitespace; str.strip() would also accept characters JSON rejects.
_JSON_WHITESPACE = " \t\r\n"


def _is_restricted(name: str) -> bool:
    return name in RESTRICTED_HEADERS or name.startswith(RESTRICTED_PREFIXES)


def parse_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str | list[str]]:
    """Lower-cased header names; a repeated header becomes a list in arrival order.

    Values are not split on commas: a single header carrying "a, b" stays one string.
    """
    headers: dict[str, str | list[str]] = {}
    for raw_name, raw_value in raw:
        # ASGI gives header bytes as latin-1, as HTTP/1.1 defines them.
        name = raw_name.decode("latin-1").lower()
        if _is_restricted(name):
            continue
        _add(headers, name, raw_value.decode("latin-1"))
    return headers


def parse_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Cookies from every ``Cookie`` header; the first occurrence of a name wins."""
    cookies: dict[str, str] = {}
    for raw_name, raw_value in headers:
        if raw_name.lower() != b"cookie":
            continue
        for segment in raw_value.decode("latin-1").split(";"):
            name, sep, value = segment.partition("=")
            name = name.strip()
            # Garbage segments (no "=", empty name) are skipped rather than rejected,
            # as browsers and the `cookie` npm package do.
            if not sep or not name or name in cookies:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            # unquote leaves invalid escapes such as "%zz" untouched.
            cookies[name] = unquote(value)
    return cookies


def _parse_urlencoded(text: str, *, errors: str) -> dict[str, str | list[str]]:
    # `errors` applies to %-escapes, which may also decode to invalid UTF-8.
    result: dict[str, str | list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors=errors):
        _add(result, key, value)
    return result


def _add(values: dict[str, str | list[str]], key: str, value: str) -> None:
    """First value as a string; repeats turn it into a list in arrival order."""
    existing = values.get(key)
    if existing is None:
        values[key] = value
    elif isinstance(existing, list):
        existing.append(value)
    else:
        values[key] = [existing, value]


def parse_query(query_string: bytes) -> dict[str, str | list[str]]:
    """Query parameters; never fails (invalid UTF-8 is replaced with U+FFFD)."""
    # Decode to str first: parse_qsl on bytes insists on ASCII.
    text = query_string.decode("utf-8", "replace")
    return _parse_urlencoded(text, errors="replace")


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower-cased, without parameters."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _describe_unicode_error(exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : exc.start + 1]
    return f"not valid UTF-8 (byte 0x{bad.hex()} at offset {exc.start})"


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"Malformed form body: {_describe_unicode_error(exc)}") from None
    try:
        return dict(_parse_urlencoded(text, errors="strict"))
    except UnicodeDecodeError as exc:
        # The offset here is within one unescaped field, so only the byte is useful.
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise EventError(
            f"Malformed form body: a %-escape decodes to invalid UTF-8 (byte 0x{bad})"
        ) from None


def _json_kind(value: object) -> str:
    # bool before int/float: True is an int in Python.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON (and Node's body parser) does not.
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"Malformed JSON body: {_describe_unicode_error(exc)}") from None
    # A leading BOM is tolerated, as Node's body parser does.
    text = text.removeprefix("\ufeff")
    if not text.strip(_JSON_WHITESPACE):
        return {}
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise EventError(
            f"Malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise EventError("Malformed JSON body: nested too deeply") from None
    except ValueError as exc:
        raise EventError(f"Malformed JSON body: {exc}") from None
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        # Twilio spreads an array into the event, so its indexes become keys.
        return {str(index): item for index, item in enumerate(value)}
    raise EventError(f"JSON body must be an object or an array, got {_json_kind(value)}")


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Parsed body keys for form and JSON bodies; ``{}`` for any other media type."""
    media = media_type(content_type)
    if media == _FORM:
        return _parse_form(body)
    if media == _JSON or media.endswith("+json"):
        return _parse_json(body)
    # text/plain, multipart, XML, ...: Twilio leaves these out of the event.
    return {}


def _content_type(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return None


def build_event(
    *, query_string: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> dict[str, Any]:
    """The ``event`` dict: request info, then query keys, then body keys (later wins)."""
    event: dict[str, Any] = {
        "request": {"headers": parse_headers(headers), "cookies": parse_cookies(headers)}
    }
    if query_string:
        event.update(parse_query(query_string))
    if body:
        event.update(parse_body(body, _content_type(headers)))
    return event
