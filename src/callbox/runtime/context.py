"""The ``context`` argument: environment variables plus helpers, one fresh object per call."""

from __future__ import annotations

import logging
import time
from typing import Any

_log = logging.getLogger("callbox.context")

# Read while unset in local development, these get one warning per worker process, as on Twilio.
_LOCAL_ONLY_UNSET = ("SERVICE_SID", "ENVIRONMENT_SID")
_warned: set[str] = set()


class TwilioClientError(RuntimeError):
    """``get_twilio_client()`` cannot build a client: credentials are missing or malformed."""


class Context(dict[str, Any]):
    """Environment variables with attribute and item access, and ``get_twilio_client()``.

    ``context.GREETING`` and ``context["GREETING"]`` are the same; an unknown name raises
    AttributeError / KeyError, and ``context.get("NAME", default)`` works as on any dict.
    """

    def __init__(
        self, values: dict[str, Any], *, local: bool = False, deadline: float | None = None
    ) -> None:
        super().__init__(values)
        self._local = local
        self._deadline = deadline  # time.monotonic() at the execution limit

    def get_remaining_time(self) -> int:
        """Milliseconds left before the execution limit ends this invocation (0 once past)."""
        if self._deadline is None:
            return 0
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    getRemainingTime = get_remaining_time  # noqa: N815 - the JavaScript spelling

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"context has no variable {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if value is None and self._local and key in _LOCAL_ONLY_UNSET and key not in _warned:
            _warned.add(key)
            _log.warning(
                "The %s variable is undefined in local development; it is set when your "
                "functions are deployed.",
                key,
            )
        return value

    def get_twilio_client(self, **options: Any) -> Any:
        """A ``twilio.rest.Client`` built from ACCOUNT_SID and AUTH_TOKEN (options pass through)."""
        sid = self.get("ACCOUNT_SID")
        token = self.get("AUTH_TOKEN")
        if not sid:
            raise TwilioClientError(
                "Missing Account SID: add ACCOUNT_SID=AC... to your .env file, or deploy the "
                "service with credentials included."
            )
        if not (isinstance(sid, str) and sid.startswith("AC") and len(sid) == 34):
            raise TwilioClientError(
                f"Invalid Account SID: ACCOUNT_SID must be 'AC' followed by 32 characters; "
                f"found {sid!r}."
            )
        if not token:
            raise TwilioClientError(
                "Missing Auth Token: add AUTH_TOKEN=... to your .env file, or deploy the "
                "service with credentials included."
            )
        from twilio.rest import Client  # lazily: most invocations never need a client

        return Client(sid, token, **options)

    getTwilioClient = get_twilio_client  # noqa: N815 - the documented name
