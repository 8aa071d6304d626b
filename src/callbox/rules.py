"""The platform's rules that both sides check: the API (and the builder) when it stores, the
toolkit before it uploads (so a deploy fails before it has changed anything). Names, variables,
sizes and counts, the runtimes and the language each runs, Twilio's runtime handler. Standard
library only: the CLI imports it without loading the server.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal

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


def max_bytes(kind: str, visibility: str) -> int:
    """The most bytes one function version, or one asset version of ``visibility``, may hold
    (checked at upload and again in a build)."""
    if kind == "function":
        return MAX_FUNCTION_BYTES
    return MAX_PRIVATE_ASSET_BYTES if visibility == "private" else MAX_ASSET_BYTES


def too_many_assets(visibilities: Iterable[str]) -> tuple[str, int] | None:
    """The first visibility of which a build given assets of ``visibilities`` holds more than
    ``MAX_ASSETS`` allows, with its count; None when every count is within its limit."""
    counts = Counter(visibilities)
    for visibility, limit in MAX_ASSETS.items():
        if counts[visibility] > limit:
            return visibility, counts[visibility]
    return None


def size_text(limit: int) -> str:
    """A byte limit as people read it: "10 MB (10485760 bytes)", or "300 bytes"."""
    return f"{limit // MB} MB ({limit} bytes)" if limit % MB == 0 else f"{limit} bytes"


def is_service_name(name: str) -> bool:
    return len(name) <= MAX_SERVICE_NAME and SERVICE_NAME.fullmatch(name) is not None


# Runtimes: Twilio's names for Node.js, callbox's for Python; a build runs one language.
RuntimeLanguage = Literal["python", "node"]
PYTHON_RUNTIMES = ("python3.11", "python3.12", "python3.13")
NODE_RUNTIMES = ("node18", "node20", "node22")
RUNTIMES = (*PYTHON_RUNTIMES, *NODE_RUNTIMES)
DEFAULT_PYTHON_RUNTIME = "python3.11"


def runtime_language(runtime: str) -> RuntimeLanguage | None:
    """The language a runtime's name says it runs (node22 -> node, python3.12 -> python); None
    when the name says neither (the server then says which runtimes it takes)."""
    if runtime.startswith("node"):
        return "node"
    if runtime.startswith("python"):
        return "python"
    return None


# Twilio's runtime handler (``@twilio/runtime-handler``), which callbox replaces: a build may
# name it, with an exact version (Twilio's check-runtime-handler: 1.1.0, 1.1.0-rc.1).
RUNTIME_HANDLER = "@twilio/runtime-handler"
EXACT_NPM_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
