"""The API resources several toolkit commands find, create or wait for: services,
environments (named as Twilio's toolkit names them), builds and variables."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from callbox.rules import (
    MAX_VARIABLE_BYTES,
    MAX_VARIABLE_KEY,
    MAX_VARIABLES_BYTES,
    VARIABLE_KEY,
    is_service_name,
)
from callbox.toolkit.client import ApiClient
from callbox.toolkit.errors import ApiError, DeployError
from callbox.toolkit.printer import Printer

ENVIRONMENT_SID = re.compile(r"ZE[0-9a-f]{32}")
# The server's variable rules (api/variables.py), checked before anything is uploaded.


NEVER_UPLOADED = frozenset({"ACCOUNT_SID", "AUTH_TOKEN"})


def account_of_key(client: ApiClient) -> str | None:
    """The account an API key belongs to (the key's SID does not say): the server lists the
    key's own account for it, without the auth token."""
    listed = client.get("/2010-04-01/Accounts.json").get("accounts") or []
    sid = listed[0].get("sid") if listed and isinstance(listed[0], dict) else None
    return str(sid) if sid else None


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


def create_service(client: ApiClient, name: str) -> dict[str, Any] | None:
    """A new service as Twilio's toolkit creates it (credentials included); None when the
    name is taken."""
    try:
        return client.post(
            "/v1/Services",
            {
                "UniqueName": name,
                "FriendlyName": name,
                "IncludeCredentials": "true",
                "UiEditable": "false",
            },
        )
    except ApiError as exc:
        if exc.status == 409:
            return None
        raise


def service_name_from(text: str) -> str:
    """A service unique name from a folder or package name: runs of other characters become
    one dash (my_project -> my-project), at most 49 characters; '' when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:49].strip("-")
    return cleaned if is_service_name(cleaned) else ""


# Twilio's order for what a build serves: private, protected, public (then by path).
ACCESS_ORDER = {"private": 0, "protected": 1, "public": 2}


def reached_at(base_url: str, kind: str, path: str, visibility: str) -> str:
    """Where a function or asset is reached: its URL, or, private, how code reads it."""
    if visibility != "private":
        return f"{base_url}{path}"
    if kind == "function":
        return f'Runtime.get_functions()["{path.lstrip("/")}"]'
    return f'Runtime.get_assets()["{path}"]'


def by_access(entries: list[dict[str, Any]], key: str = "visibility") -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (ACCESS_ORDER.get(e.get(key, ""), 3), e.get("path", "")))


def logs_hint(service_sid: str, suffix: str | None) -> str:
    """The command that follows an environment's log lines (Twilio prints a console link)."""
    where = f"--environment {suffix}" if suffix else "--production"
    return f"callbox logs --service-sid {service_sid} {where} --tail"


def environment_names(suffix: str) -> tuple[str, str]:
    """Unique and friendly name Twilio's toolkit gives an environment it creates."""
    unique = f"{suffix}-environment" if suffix else "production"
    return unique, f"{unique} Environment (Created by CLI)"


def find_environment(client: ApiClient, base: str, target: str) -> dict[str, Any] | None:
    """The environment whose SID is ``target`` (ZE...) or whose domain suffix it is."""
    if ENVIRONMENT_SID.fullmatch(target):
        try:
            return client.get(f"{base}/Environments/{target}")
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
    matches = [
        env
        for env in client.each(f"{base}/Environments", "environments")
        if (env.get("domain_suffix") or "") == target
    ]
    conventional = [e for e in matches if e["unique_name"] == environment_names(target)[0]]
    return next(iter(conventional or matches), None)


def create_environment(client: ApiClient, base: str, suffix: str) -> dict[str, Any]:
    unique, friendly = environment_names(suffix)
    data = {"UniqueName": unique, "FriendlyName": friendly}
    if suffix:
        data["DomainSuffix"] = suffix
    return client.post(f"{base}/Environments", data)


def wait_for_build(
    client: ApiClient, base: str, sid: str, say: Printer, timeout: float = 300.0
) -> dict[str, Any]:
    """Poll ``/Status`` (with a live status line) until the build completes; its JSON."""
    url = f"{base}/Builds/{sid}"
    deadline = time.monotonic() + timeout
    delay = 0.01
    with say.status(f"Build {sid}: building") as status:
        while True:
            state = client.get(f"{url}/Status")["status"]
            status.update(f"Build {sid}: {state}")
            if state == "completed":
                return client.get(url)
            if state == "failed":
                reason = client.get(url).get("error") or "no reason was recorded"
                lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
                raise DeployError(f"Build {sid} failed: {'; '.join(lines)}")
            if time.monotonic() > deadline:
                raise DeployError(
                    f"Build {sid} did not finish within {timeout:.0f} s; its status is still "
                    "building and nothing was activated. Check it later with "
                    "`callbox list builds`."
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)  # builds often finish in ~25 ms; slow ones poll at 1 s


def set_variables(
    client: ApiClient,
    env_base: str,
    values: dict[str, str],
    *,
    source: Path | str = "the variables",
    remove_others: bool = False,
) -> None:
    """Create or update each variable (unchanged ones are left alone), like Twilio's toolkit;
    ``remove_others`` also deletes remote variables missing from ``values`` (env import).
    Nothing is changed when ``values`` break the server's limits."""
    check_variables(values, source)
    existing = {v["key"]: v for v in client.each(f"{env_base}/Variables", "variables")}
    if remove_others:  # first, so the new set never counts against the 3 KB limit twice
        for key, variable in existing.items():
            if key not in values:
                client.delete(f"{env_base}/Variables/{variable['sid']}")
    # Changes that shrink the set go first: the server checks the 3 KB total after each one,
    # so a set that fits as a whole must not fail half way.
    changed = [(k, v) for k, v in values.items() if existing.get(k, {}).get("value") != v]

    def size(key: str, value: str) -> int:  # as the server counts: JSON bytes
        return len(json.dumps({key: value}).encode())

    def growth(item: tuple[str, str]) -> int:
        key, value = item
        before = size(key, existing[key]["value"]) if key in existing else 0
        return size(key, value) - before

    for key, value in sorted(changed, key=growth):
        current = existing.get(key)
        if current is None:
            client.post(f"{env_base}/Variables", {"Key": key, "Value": value})
        else:
            client.post(f"{env_base}/Variables/{current['sid']}", {"Value": value})
