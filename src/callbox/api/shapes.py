"""What a resource's JSON holds, declared once next to its ``render()``.

A ``Shape`` is a named object of ``Field`` s; the OpenAPI document publishes it as a component
schema, and tests (and the schema-driven fuzz run) compare it with real answers. Fields are
made with the small constructors below: ``sid_of(SERVICE)``, ``string()``, ``date()``, ``url()``,
``links("environments", ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SID_DIGITS = "[0-9a-fA-F]{32}"


@dataclass(frozen=True)
class Field:
    """One field of a resource's JSON: its JSON type and what more JSON Schema can say."""

    type: str  # string | boolean | integer | array | object
    nullable: bool = False
    format: str | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    items: Shape | None = None  # an array's items, or an object's fields
    optional: bool = False  # may be left out of the answer
    description: str = ""

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.format:
            schema["format"] = self.format
        if self.pattern:
            schema["pattern"] = self.pattern
        if self.enum:
            schema["enum"] = [*self.enum, *([None] if self.nullable else [])]
        if self.type == "array" and self.items is not None:
            schema["items"] = self.items.schema()
        elif self.items is not None:
            schema.update(self.items.schema())
        if self.description:
            schema["description"] = self.description
        return schema


class Shape:
    """A named JSON object: the fields of one resource (or, unnamed, of a part of one)."""

    def __init__(self, name: str, /, **fields: Field) -> None:
        self.name = name
        self.fields = fields

    def __repr__(self) -> str:
        return f"Shape({self.name!r}, {', '.join(self.fields)})"

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: f.schema() for name, f in self.fields.items()},
            "required": [name for name, f in self.fields.items() if not f.optional],
        }

    @property
    def key(self) -> str:
        """The key of a list of these: FunctionVersion -> function_versions."""
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in self.name).lstrip("_")
        return f"{snake}s"


def sid_of(prefix: str, *, nullable: bool = False) -> Field:
    return Field("string", nullable=nullable, pattern=f"^{prefix}{SID_DIGITS}$")


def string(*, nullable: bool = False, description: str = "", optional: bool = False) -> Field:
    return Field("string", nullable=nullable, description=description, optional=optional)


def boolean() -> Field:
    return Field("boolean")


def integer() -> Field:
    return Field("integer")


def date() -> Field:
    """A timestamp as the SDKs parse it: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return Field("string", format="date-time")


def url(*, nullable: bool = False) -> Field:
    return Field("string", nullable=nullable, format="uri")


def one_of(*values: str) -> Field:
    return Field("string", enum=values)


def array(items: Shape) -> Field:
    """A list of objects, described inline."""
    return Field("array", items=items)


def nested(items: Shape) -> Field:
    """An object, described inline."""
    return Field("object", items=items)


def links(*names: str) -> Field:
    """``links``: absolute urls of sub-resources, by name."""
    return nested(Shape("", **{name: url() for name in names}))
