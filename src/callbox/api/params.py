"""Form and query parameters, PascalCase as Twilio names them, checked with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from callbox.errors import BadRequest

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class MultiMapping(Protocol):
    def get(self, key: Any, default: Any = None) -> Any: ...

    def getlist(self, key: Any) -> list[Any]: ...

    def __contains__(self, key: Any) -> bool: ...


class Params:
    """The parameters of one request (form body for POST, query for GET)."""

    def __init__(self, values: MultiMapping, where: str = "post body") -> None:
        self.values = values
        self.where = where

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        max_length: int | None = None,
        max_bytes: int | None = None,
    ) -> str | None:
        raw = self.values.get(name)
        if raw is None:
            if required:
                raise BadRequest(f"Missing required parameter {name} in the {self.where}")
            return None
        if not isinstance(raw, str):
            raise BadRequest(f"Parameter {name} must be text, not a file")
        if required and raw == "":
            raise BadRequest(f"Missing required parameter {name} in the {self.where}")
        if max_length is not None and len(raw) > max_length:
            raise BadRequest(
                f"Parameter {name} is too long: at most {max_length} characters, found {len(raw)}"
            )
        if max_bytes is not None and len(raw.encode()) > max_bytes:
            raise BadRequest(
                f"Parameter {name} is too long: at most {max_bytes} bytes, "
                f"found {len(raw.encode())}"
            )
        return raw

    def required(self, name: str, **limits: Any) -> str:
        value = self.text(name, required=True, **limits)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise BadRequest(f"Parameter {name} must be true or false; found {raw!r}")

    def many(self, name: str) -> list[str]:
        items = [v for v in self.values.getlist(name) if isinstance(v, str)]
        return [v for v in items if v != ""]

    def date(self, name: str) -> datetime | None:
        raw = self.text(name)
        if raw is None or raw == "":
            return None
        return parse_datetime(name, raw)


def parse_datetime(name: str, raw: str) -> datetime:
    """ISO 8601 as the SDKs send it (``...Z`` with or without milliseconds); naive UTC."""
    text = raw.strip().replace(" ", "+")  # an unencoded '+' in a query string arrives as ' '
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"Parameter {name} must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z; "
            f"found {raw!r}"
        ) from None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable
            raise BadRequest(f"Parameter {name} is out of range; found {raw!r}") from None
    return value
