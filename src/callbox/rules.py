"""The platform's naming and size rules that both sides check: the API when it stores, the
toolkit before it uploads (so a deploy fails before it has changed anything). Standard library
only: the CLI imports it without loading the server.
"""

from __future__ import annotations

import re

# Services (seed: fewer than 50 characters, letters, digits and dashes, permanent).
SERVICE_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")  # use fullmatch
MAX_SERVICE_NAME = 49

# Variables. Keys become names in the function's context (and may be exported to a process
# environment), so they take the shape of an identifier: letters, digits, underscore, no
# leading digit.
VARIABLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # use fullmatch ("$" lets "\n" in)
MAX_VARIABLE_KEY = 128
MAX_VARIABLE_BYTES = 450  # per value, UTF-8 (seed: "450 bytes ... using the Serverless API")
MAX_VARIABLES_BYTES = 3072  # an environment's variables as JSON (seed: "approximately 3kb")


# Sizes and counts (seed, Assets > Limitations: 25 MB per public or protected asset, 10 MB
# per private one; per build, 1000 public, 1000 protected and 50 private assets). Twilio
# publishes no limit for function source; 10 MB is far beyond any real handler.
MB = 1024 * 1024
MAX_FUNCTION_BYTES = 10 * MB
MAX_ASSET_BYTES = 25 * MB
MAX_PRIVATE_ASSET_BYTES = 10 * MB
MAX_ASSETS = {"public": 1000, "protected": 1000, "private": 50}


def size_text(limit: int) -> str:
    """A byte limit as people read it: "10 MB (10485760 bytes)", or "300 bytes"."""
    return f"{limit // MB} MB ({limit} bytes)" if limit % MB == 0 else f"{limit} bytes"


def is_service_name(name: str) -> bool:
    return len(name) <= MAX_SERVICE_NAME and SERVICE_NAME.fullmatch(name) is not None
