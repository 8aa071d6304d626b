"""Deploy a project folder, in the order Twilio's toolkit does it: service -> environment ->
functions and assets (a version each) -> build -> wait -> variables -> deployment."""

from __future__ import annotations

import json
import mimetypes
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callbox.gateway.source import Route
from callbox.toolkit.client import ApiClient, ApiError
from callbox.toolkit.project import Layout, discover, read_env

NEVER_UPLOADED = frozenset({"ACCOUNT_SID", "AUTH_TOKEN"})
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


class DeployError(Exception):
    """The deploy stopped; the message says where and why."""


@dataclass
class Deployed:
    service_sid: str
    environment_sid: str
    build_sid: str
    domain: str
    routes: list[Route] = field(default_factory=list)


def deploy_project(
    client: ApiClient,
    layout: Layout,
    *,
    service_name: str,
    environment_suffix: str | None = "dev",
    runtime: str = "python3.11",
    env_file: Any = None,
    say: Callable[[str], None] = lambda _text: None,
    build_timeout: float = 300.0,
) -> Deployed:
    routes = list(discover(layout).values())
    service = _service(client, service_name)
    base = f"/v1/Services/{service['sid']}"
    environment = _environment(client, base, environment_suffix)
    say(f"Service {service['unique_name']} ({service['sid']}), env {environment['unique_name']}")
    function_versions = _upload(client, base, "Functions", "functions", routes, "function")
    asset_versions = _upload(client, base, "Assets", "assets", routes, "asset")
    say(f"Uploaded {len(function_versions)} functions and {len(asset_versions)} assets")
    build = client.post(
        f"{base}/Builds",
        {
            "FunctionVersions": function_versions,
            "AssetVersions": asset_versions,
            "Dependencies": json.dumps(_dependencies(layout)),
            "Runtime": runtime,
        },
    )
    build = _wait(client, f"{base}/Builds/{build['sid']}", build_timeout, say)
    env_base = f"{base}/Environments/{environment['sid']}"
    if env_file is not None:
        _variables(client, env_base, read_env(env_file))
    client.post(f"{env_base}/Deployments", {"BuildSid": build["sid"]})
    return Deployed(
        service["sid"], environment["sid"], build["sid"], environment["domain_name"], routes
    )


def _service(client: ApiClient, name: str) -> dict[str, Any]:
    try:
        return client.get(f"/v1/Services/{name}")
    except ApiError as exc:
        if exc.status != 404:
            raise
    return client.post(
        "/v1/Services", {"UniqueName": name, "FriendlyName": name, "IncludeCredentials": "true"}
    )


def _environment(client: ApiClient, base: str, suffix: str | None) -> dict[str, Any]:
    for env in client.each(f"{base}/Environments", "environments"):
        if (env.get("domain_suffix") or None) == (suffix or None):
            return env
    if suffix:
        return client.post(
            f"{base}/Environments", {"UniqueName": f"{suffix}-environment", "DomainSuffix": suffix}
        )
    return client.post(f"{base}/Environments", {"UniqueName": "production"})


def _upload(
    client: ApiClient, base: str, collection: str, key: str, routes: list[Route], kind: str
) -> list[str]:
    existing = {r["friendly_name"]: r["sid"] for r in client.each(f"{base}/{collection}", key)}
    sids = []
    for route in sorted((r for r in routes if r.kind == kind), key=lambda r: r.path):
        sid = existing.get(route.path)
        if sid is None:
            sid = client.post(f"{base}/{collection}", {"FriendlyName": route.path})["sid"]
        if kind == "function":
            content_type = "text/x-python"
        else:
            content_type = mimetypes.guess_type(route.path)[0] or "application/octet-stream"
        version = client.upload(
            f"{base}/{collection}/{sid}/Versions",
            route=route.path,
            visibility=route.visibility,
            content=route.file.read_bytes(),
            content_type=content_type,
        )
        sids.append(version["sid"])
    return sids


def _dependencies(layout: Layout) -> list[dict[str, str]]:
    """requirements.txt as the build's Dependencies: name and version specifier."""
    file = layout.root / "requirements.txt"
    if not file.is_file():
        return []
    found = []
    for line in file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _REQUIREMENT.match(line)
        if match is None:
            raise DeployError(f"requirements.txt: cannot read the line {line!r}")
        name, _extras, spec = match.groups()
        found.append({"name": name, "version": spec})
    return found


def _wait(
    client: ApiClient, url: str, timeout: float, say: Callable[[str], None]
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        status = client.get(f"{url}/Status")["status"]
        if status == "completed":
            return client.get(url)
        if status == "failed":
            build = client.get(url)
            reason = build.get("error") or "no reason was recorded"
            raise DeployError(f"Build {build['sid']} failed: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"The build did not finish within {timeout:.0f} s.")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)  # builds often finish in ~25 ms; slow ones poll at 1 s


def _variables(client: ApiClient, env_base: str, values: dict[str, str]) -> None:
    existing = {v["key"]: v["sid"] for v in client.each(f"{env_base}/Variables", "variables")}
    for key, value in values.items():
        if key in NEVER_UPLOADED or value == "":
            continue
        if key in existing:
            client.post(f"{env_base}/Variables/{existing[key]}", {"Value": value})
        else:
            client.post(f"{env_base}/Variables", {"Key": key, "Value": value})
