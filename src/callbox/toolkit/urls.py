"""Where deployed things are reached, as the commands print them: a domain's URL (the server's
scheme and port), a function's or asset's URL or, private, how code reads it, in Twilio's
order, and how to follow an environment's logs."""

from __future__ import annotations

from typing import Any

import httpx

# Twilio's order for what a build serves: private, protected, public (then by path).
ACCESS_ORDER = {"private": 0, "protected": 1, "public": 2}


def domain_url(server_url: str, domain: str) -> str:
    """The public URL of a deployed domain: the server's scheme and port, the domain's name."""
    server = httpx.URL(server_url)
    default_port = {"http": 80, "https": 443}.get(server.scheme)
    port = "" if server.port in (None, default_port) else f":{server.port}"
    return f"{server.scheme}://{domain}{port}"


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
