"""Types for function authors: annotate a handler with them and ``mypy --strict`` checks it
(a callback given the wrong arguments, a misspelt Response method).

    from callbox.runtime import Runtime, Twilio
    from callbox.runtime.types import Callback, Context, Event

    def handler(context: Context, event: Event, callback: Callback) -> None:
        response = Twilio.Response()
        response.set_status_code(201)
        callback(None, response)

``async def handler(...) -> None`` takes the same three. ``Twilio`` and ``Runtime`` are globals
in every function module; importing them from ``callbox.runtime`` (the same objects) lets a type
checker see them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from callbox.runtime.context import Context
from callbox.runtime.response import Response

# The request's parameters (query, form, JSON body) and ``event["request"]``
# (``{"headers": {...}, "cookies": {...}}``).
Event: TypeAlias = dict[str, Any]


class TwiML(Protocol):
    """A TwiML document of the twilio library (VoiceResponse, MessagingResponse, ...)."""

    def to_xml(self, xml_declaration: bool = ...) -> str: ...


# What ``callback`` answers with: nothing, text, bytes, JSON-able data, TwiML or a Response.
Payload: TypeAlias = (
    None | str | bytes | bool | int | float | Mapping[str, Any] | Sequence[Any] | TwiML | Response
)


class Callback(Protocol):
    """``callback(error, response)``: the first call ends the invocation."""

    def __call__(self, error: object = None, response: Payload = None, /) -> None: ...


SyncHandler: TypeAlias = Callable[[Context, Event, Callback], object]
AsyncHandler: TypeAlias = Callable[[Context, Event, Callback], Awaitable[object]]
Handler: TypeAlias = SyncHandler | AsyncHandler

__all__ = [
    "AsyncHandler",
    "Callback",
    "Context",
    "Event",
    "Handler",
    "Payload",
    "Response",
    "SyncHandler",
    "TwiML",
]
