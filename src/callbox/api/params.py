"""Form and query parameters, PascalCase as Twilio names them: declared once, checked with clear
errors, and described in the OpenAPI document from the same declaration.

A ``Param`` says what JSON Schema can say (type, required, length, pattern, enum, range) plus
what it cannot, in plain fields the checks read: a limit in UTF-8 bytes, what an empty value
means, a number read as at most some value, a ``check`` in code for what is left (a JSON text,
a runtime name). ``read_args`` checks a request's values against its operation's parameters;
``Param.schema()`` is the same rules for the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from callbox.errors import BadRequest

_WHOLE = re.compile(r"-?[0-9]+")
# In the document: no value may hold a NUL character (it is refused: PostgreSQL cannot keep one).
_NO_NUL = r"(?![\s\S]*\x00)"
_DUPLICATE = "{value} is listed twice in {name}; list each one once."

Type = Literal["string", "boolean", "integer", "date-time", "list", "file"]
# What an empty value ("Name=") means: the parameter is missing (an error when required),
# absent (as if not sent: the default applies), or a value like any other, checked as such.
Empty = Literal["missing", "absent", "value"]


class MultiMapping(Protocol):
    def get(self, key: Any, default: Any = None) -> Any: ...

    def getlist(self, key: Any) -> list[Any]: ...

    def __contains__(self, key: Any) -> bool: ...


class Params:
    """The raw parameters of one request (form body for POST, query for GET)."""

    def __init__(self, values: MultiMapping, where: str = "post body") -> None:
        self.values = values
        self.where = where

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def text(self, name: str) -> str | None:
        """The value as sent (text only), unchecked: for echoing filters back into page urls."""
        raw = self.values.get(name)
        return raw if isinstance(raw, str) else None


@dataclass(frozen=True)
class Param:
    """One parameter: its rules, checked by ``read`` and described by ``schema``.

    ``invalid`` and ``too_long`` replace the standard messages for a broken pattern, enum or
    range and for a length over the limit; they are formatted with ``name``, ``value``,
    ``found`` (the length or number found) and ``limit``. ``check`` runs last, in code, and
    returns what the handler gets (it is given the default when the parameter is not sent);
    when given, it decides the ``pattern`` and the ``enum``
    itself (with its own messages, letter case, defaults), which the document still states
    and the schema-driven fuzz run holds it to.
    """

    name: str
    type: Type = "string"
    required: bool = False
    empty: Empty | None = None  # None: "missing" when required, else "value"
    max_length: int | None = None  # characters (for a list: of each item)
    max_bytes: int | None = None  # UTF-8 bytes; the document can only say it in words
    pattern: str | None = None  # the whole value (each item of a list) matches; ASCII classes
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    at_most: int | None = None  # a larger number is read as this one
    unique: bool = False  # a list names each item once
    default: Any = None
    check: Callable[[Any], Any] | None = None
    invalid: str | None = None
    too_long: str | None = None
    refused: str | None = None  # the parameter may not be sent at all: this is the error
    description: str = ""

    @property
    def when_empty(self) -> Empty:
        return self.empty or ("missing" if self.required else "value")

    # -- checking ---------------------------------------------------------------------------

    def read(self, source: Params) -> Any:
        """This parameter's value in ``source``, checked; its default when not sent."""
        if self.refused is not None:
            if self.name in source:
                raise BadRequest(self.refused)
            return None
        if self.type == "list":
            return self._read_list(source)
        raw = source.values.get(self.name)
        if raw is None:
            if self.required:
                raise self._missing(source)
            return self._default()
        if self.type == "file":
            if isinstance(raw, str):
                raise BadRequest(
                    f"Parameter {self.name} must be a file part of a multipart/form-data body "
                    f"(with a filename), not a text field; send the file as {self.name}."
                )
            return raw
        if not isinstance(raw, str):
            raise BadRequest(f"Parameter {self.name} must be text, not a file")
        if raw == "":
            if self.when_empty == "missing":
                raise self._missing(source)
            if self.when_empty == "absent":
                return self._default()
        value = self._checked(raw)
        return value if self.check is None else self.check(value)

    def _default(self) -> Any:
        # A check sees the default too: it may stand for a value (the default runtime).
        return self.default if self.check is None else self.check(self.default)

    def _missing(self, source: Params) -> BadRequest:
        if self.type == "file":
            return BadRequest(
                f"Missing required parameter {self.name}: send the file as a multipart/form-data "
                f"part named {self.name}."
            )
        return BadRequest(f"Missing required parameter {self.name} in the {source.where}")

    def _read_list(self, source: Params) -> Any:
        # A repeated key, as the SDKs send lists; files and (when empty means absent) empty
        # items are left out.
        items = [v for v in source.values.getlist(self.name) if isinstance(v, str)]
        if self.when_empty == "absent":
            items = [v for v in items if v != ""]
        if not items and self.required:
            raise self._missing(source)
        seen: set[str] = set()
        for item in items:
            self._checked(item)
            if self.unique and item in seen:
                raise BadRequest(self._say(_DUPLICATE, item, len(items), None))
            seen.add(item)
        return items if self.check is None else self.check(items)

    def _checked(self, raw: str) -> Any:
        if "\x00" in raw:  # nothing stored may hold one (PostgreSQL's text cannot)
            raise BadRequest(f"Parameter {self.name} contains a NUL character (\\x00); remove it.")
        self._check_length(raw)
        if self.type == "boolean":
            return self._boolean(raw)
        if self.type == "integer":
            return self._integer(raw)
        if self.type == "date-time":
            return parse_datetime(self.name, raw)
        if self.check is not None:
            return raw  # the check decides the pattern and the enum, with its own messages
        if self.pattern is not None and not re.fullmatch(self.pattern, raw, re.ASCII):
            raise BadRequest(self._say(self.invalid, raw, len(raw), self.pattern))
        if self.enum and raw not in self.enum:
            raise BadRequest(self._say(self.invalid, raw, len(raw), _choices(self.enum)))
        return raw

    def _check_length(self, raw: str) -> None:
        if self.max_length is not None and len(raw) > self.max_length:
            raise BadRequest(self._say(self.too_long, raw, len(raw), self.max_length, "characters"))
        if self.max_bytes is not None and len(raw.encode()) > self.max_bytes:
            size = len(raw.encode())
            raise BadRequest(self._say(self.too_long, raw, size, self.max_bytes, "bytes"))

    def _boolean(self, raw: str) -> bool:
        # As the SDKs send them (Python's requests writes True as "True").
        word = raw.lower()
        if word == "true":
            return True
        if word == "false":
            return False
        raise BadRequest(f"Parameter {self.name} must be true or false; found {raw!r}")

    def _integer(self, raw: str) -> int:
        if not _WHOLE.fullmatch(raw):
            raise BadRequest(f"{self.name} must be a whole number; found {raw!r}")
        value = int(raw)
        if value < 0:
            raise BadRequest(f"{self.name} must not be negative; found {value}")
        if self.minimum is not None and value < self.minimum:
            raise BadRequest(self._say(self.invalid, value, value, self.minimum))
        if self.maximum is not None and value > self.maximum:
            raise BadRequest(self._say(self.invalid, value, value, self.maximum))
        if self.at_most is not None:
            value = min(value, self.at_most)
        return value

    def _say(self, template: str | None, value: Any, found: int, limit: Any, unit: str = "") -> str:
        if template is None:
            if unit:  # a length
                template = "Parameter {name} is too long: at most {limit} {unit}, found {found}"
            elif self.enum:
                template = "Parameter {name} must be one of {limit}; found {value!r}."
            elif isinstance(value, int):
                template = "Parameter {name} is out of range: found {value}, limit {limit}"
            else:
                template = "Parameter {name} does not match {limit}; found {value!r}"
        return template.format(name=self.name, value=value, found=found, limit=limit, unit=unit)

    # -- describing -------------------------------------------------------------------------

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this parameter's value (a form property or a query parameter)."""
        if self.refused is not None:
            return {"not": {}, "description": self.refused}
        if self.type == "file":
            return {"type": "string", "format": "binary"}
        if self.type == "list":
            return self._list_schema()
        absent = self.when_empty == "absent"
        schema: dict[str, Any]
        if self.type == "boolean":
            schema = {"type": "boolean"}
        elif self.type == "integer":
            schema = {"type": "integer"}
            low = max(self.minimum or 0, 0)
            schema["minimum"] = low
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.type == "date-time":
            schema = {"type": "string", "format": "date-time"}
        else:
            schema = self._text_schema(absent)
        if self.default is not None:
            schema["default"] = self.default
        words = self._words()
        if words:
            schema["description"] = words
        return schema

    def _text_schema(self, absent: bool) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.when_empty == "missing":
            schema["minLength"] = 1
        limits = [n for n in (self.max_length, self.max_bytes) if n is not None]
        if limits:
            # A character is at least one byte: over max_bytes characters is over in bytes too.
            schema["maxLength"] = min(limits)
        if self.pattern is not None:
            optional = "?" if absent else ""
            schema["pattern"] = f"^(?:{self.pattern}){optional}$"
        elif not self.enum:  # (a declared pattern says which characters it takes itself)
            schema["pattern"] = f"^{_NO_NUL}"
        if self.enum:
            schema["enum"] = [*([""] if absent else []), *self.enum]
        return schema

    def _list_schema(self) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "string"}
        if self.max_length is not None:
            item["maxLength"] = self.max_length
        if self.pattern is not None:
            optional = "?" if self.when_empty == "absent" else ""
            item["pattern"] = f"^(?:{self.pattern}){optional}$"
        else:
            item["pattern"] = f"^{_NO_NUL}"
        schema: dict[str, Any] = {"type": "array", "items": item}
        if self.unique:
            schema["uniqueItems"] = True
        words = self._words()
        if words:
            schema["description"] = words
        return schema

    def _words(self) -> str:
        """What the schema keywords cannot say, in a sentence or two."""
        words = [self.description] if self.description else []
        if self.max_bytes is not None:
            words.append(f"At most {self.max_bytes} bytes (UTF-8).")
        if self.at_most is not None:
            words.append(f"A larger number is read as {self.at_most}.")
        if self.when_empty == "absent" and self.type not in ("list", "file"):
            words.append("Empty is the same as not sent.")
        return " ".join(words)


# Parameters several resources take.
FRIENDLY_NAME = Param("FriendlyName", required=True, max_length=255)


def read_args(params: Sequence[Param], source: Params) -> dict[str, Any]:
    """Every declared parameter's value, checked in the order declared (the first error wins)."""
    return {param.name: param.read(source) for param in params}


def _choices(values: Sequence[str]) -> str:
    shown = [v for v in values if v]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else "".join(shown)


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
