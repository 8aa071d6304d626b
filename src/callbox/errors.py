"""One error family for the gateway and the API.

    CallboxError                 code (Twilio-style number), HTTP status, message
      NotFound          404      20404
      MethodNotAllowed  405      20405
      BadRequest        400      20001 (malformed body, bad cookie attributes, bad parameter)
      Unauthorized      401      20003 (API: missing or wrong credentials)
      NotPermitted      403      20403 (API: these credentials may not do that)
      Conflict          409      20409 (API: a unique name taken, a deployment in progress)
      Forbidden         403      80625 (protected resource, signature missing or invalid)
      RequestTimeout    408      20408 (the request's headers or body came too slowly)
      PayloadTooLarge   413      82007
      TooManyRequests   429      20429
      HeadersTooLarge   431      82008
      FunctionError     500      82005 (the function failed: error, exception, crash)
      TimedOut          504      82006
      InternalError     500      20500 (API: a fault of callbox itself, logged with its trace)
      ServiceUnavailable 503     20503 (the database is away; a build is still being prepared
                                       on this node): says when to try again (Retry-After)

Every error renders to the same JSON body: {"code", "message", "more_info", "status"}.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


class CallboxError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[int] = 82005
    # Seconds a client should wait before trying again (the Retry-After header), when it should.
    retry_after: int | None = None

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        # The invocation it ended, when it ended one (tags its log line, alert and metric;
        # never rendered).
        self.meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        body.update(self.details)
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()


class BadRequest(CallboxError):
    status, code = 400, 20001


class Unauthorized(CallboxError):
    status, code = 401, 20003


class NotPermitted(CallboxError):
    status, code = 403, 20403


class Conflict(CallboxError):
    status, code = 409, 20409


class Forbidden(CallboxError):
    status, code = 403, 80625


class NotFound(CallboxError):
    status, code = 404, 20404


class MethodNotAllowed(CallboxError):
    status, code = 405, 20405

    def __init__(self, message: str, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allow = allow  # the methods the resource answers: the Allow header


class RequestTimeout(CallboxError):
    status, code = 408, 20408


class PayloadTooLarge(CallboxError):
    status, code = 413, 82007


class TooManyRequests(CallboxError):
    status, code = 429, 20429


class HeadersTooLarge(CallboxError):
    status, code = 431, 82008


class FunctionError(CallboxError):
    status, code = 500, 82005


class TimedOut(CallboxError):
    status, code = 504, 82006


class InternalError(CallboxError):
    status, code = 500, 20500


class ServiceUnavailable(CallboxError):
    status, code = 503, 20503

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
