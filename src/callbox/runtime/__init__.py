"""The function contract, as user code sees it. Runs inside worker processes: standard library
only (the ``twilio`` library is imported lazily)."""

from callbox.runtime.context import Context, TwilioClientError
from callbox.runtime.globals import Runtime, Twilio
from callbox.runtime.response import Response

__all__ = ["Context", "Response", "Runtime", "Twilio", "TwilioClientError"]
