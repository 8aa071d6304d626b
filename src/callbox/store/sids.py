"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets

ACCOUNT, API_KEY, SERVICE, ENVIRONMENT = "AC", "SK", "ZS", "ZE"
RESOURCE, VERSION, BUILD, DEPLOYMENT, VARIABLE, LOG, REQUEST = (
    "ZH",  # Functions and Assets share a prefix, as on Twilio
    "ZN",  # so do their versions
    "ZB",
    "ZD",
    "ZV",
    "NO",
    "RQ",
)

ALERT = "NO"  # Monitor's alerts, as on Twilio

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and bool(_SID.match(value))
