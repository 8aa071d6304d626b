"""X-Twilio-Signature checks, with the twilio library's own validator."""

from __future__ import annotations

from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from callbox.runtime.event import media_type


def is_valid(
    *, auth_token: str, url: str, signature: str | None, body: bytes, content_type: str
) -> bool:
    """True when ``signature`` signs this request: the URL plus, for form posts, the sorted
    form parameters; for JSON bodies, the URL's ``bodySHA256`` must match the body."""
    if not signature:
        return False
    try:
        return _check(RequestValidator(auth_token), url, signature, body, content_type)
    except ValueError:  # e.g. a Host header with a port that is not a number
        return False


def _check(
    validator: RequestValidator, url: str, signature: str, body: bytes, content_type: str
) -> bool:
    if media_type(content_type) == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return False
        params: dict[str, list[str]] = {}
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        return bool(validator.validate(url, _MultiDict(params), signature))
    if "bodySHA256=" in url:
        return bool(validator.validate(url, body.decode("utf-8", "replace"), signature))
    return bool(validator.validate(url, {}, signature))


class _MultiDict(dict[str, str]):
    """A dict the validator reads repeated form keys from (``getall``)."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        super().__init__({k: v[0] for k, v in values.items()})
        self._values = values

    def getall(self, key: str) -> list[str]:
        return self._values[key]
