"""The variables a project sets on an environment: the .env values a deploy uploads (Twilio's
filter) and the server's limits on them (``callbox.rules``), said before anything changes and
naming where the values came from."""

from __future__ import annotations

import json
from pathlib import Path

from callbox.rules import MAX_VARIABLE_BYTES, MAX_VARIABLE_KEY, MAX_VARIABLES_BYTES, VARIABLE_KEY
from callbox.toolkit.errors import DeployError

NEVER_UPLOADED = frozenset({"ACCOUNT_SID", "AUTH_TOKEN"})


def uploadable(values: dict[str, str]) -> dict[str, str]:
    """The .env values a deploy sends (Twilio's filter): never ACCOUNT_SID / AUTH_TOKEN, never
    empty values."""
    return {k: v for k, v in values.items() if k not in NEVER_UPLOADED and v != ""}


def check_variables(values: dict[str, str], source: Path | str) -> None:
    """The server's limits on variables, said before any change and naming where they came
    from (the .env file)."""
    for key, value in values.items():
        if len(key) > MAX_VARIABLE_KEY or not VARIABLE_KEY.fullmatch(key):
            raise DeployError(
                f'{source}: "{key}" cannot be a variable name: use letters, digits and _, '
                "not starting with a digit, at most 128 characters."
            )
        size = len(value.encode("utf-8"))
        if size > MAX_VARIABLE_BYTES:
            raise DeployError(
                f"{source}: the value of {key} is {size:,} bytes; a variable holds at most "
                f"{MAX_VARIABLE_BYTES} bytes. Keep large data in a private asset instead."
            )
    total = len(json.dumps(values).encode("utf-8"))
    if total > MAX_VARIABLES_BYTES:
        raise DeployError(
            f"{source}: all variables together are {total:,} bytes as JSON; an environment "
            f"holds at most {MAX_VARIABLES_BYTES:,}. Keep large data in a private asset instead."
        )
