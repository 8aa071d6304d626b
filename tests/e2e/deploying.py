"""Deploying to a running ``callbox serve`` as a client would, for end-to-end tests.

``deploy(server, {"/hello": (source, "public")})`` finds or creates the service (by unique
name), the environment (by domain suffix) and one Function or Asset per path (by friendly
name), uploads a version of each (multipart with httpx: the SDK has no upload call), builds,
waits for ``completed``, sets variables and deploys. Calling it again with other sources makes a
second build and deploys it to the same environment. Everything else goes through the twilio
SDK, so these helpers exercise the SDK path too.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Mapping
from typing import Any, Protocol, TypedDict

import httpx
from twilio.base.exceptions import TwilioRestException

Files = Mapping[str, tuple[bytes | str, str]]  # path -> (content, visibility)
BUILD_TIMEOUT = 60.0


class Serving(Protocol):
    """What the helpers need of a server (conftest's ServeServer)."""

    client: httpx.Client

    def sdk(self, username: str | None = None, password: str | None = None) -> Any: ...


class Deployed(TypedDict):
    service_sid: str
    environment_sid: str
    build_sid: str
    deployment_sid: str
    domain: str
    resources: dict[str, str]  # path -> Function or Asset SID (ZH)
    versions: dict[str, str]  # path -> Function or Asset Version SID (ZN)


def deploy(
    server: Serving,
    files: Files,
    assets: Files | None = None,
    *,
    service: str = "e2e",
    suffix: str | None = "dev",
    dependencies: list[dict[str, str]] | None = None,
    variables: Mapping[str, str] | None = None,
    include_credentials: bool = True,
    runtime: str = "python3.11",
) -> Deployed:
    """Upload ``files`` (functions) and ``assets``, build them, deploy; raise if the build fails.
    Functions are uploaded as the runtime's language (``.js`` for node runtimes)."""
    sdk = server.sdk().serverless.v1
    service_sid = ensure_service(server, service, include_credentials=include_credentials)
    environment = ensure_environment(server, service_sid, suffix)
    resources: dict[str, str] = {}
    versions: dict[str, str] = {}
    for kind, items in (("Functions", files), ("Assets", assets or {})):
        for path, (content, visibility) in items.items():
            resources[path] = ensure_resource(server, service_sid, kind, path)
            versions[path] = upload(
                server,
                service_sid,
                kind,
                resources[path],
                path,
                content,
                visibility,
                language="node" if runtime.startswith("node") else "python",
            )
    function_versions = [versions[path] for path in files]
    asset_versions = [versions[path] for path in assets or {}]
    build_sid = build(
        server, service_sid, function_versions, asset_versions, dependencies, runtime=runtime
    )
    finished = wait_for_build(server, service_sid, build_sid)
    if finished["status"] != "completed":
        raise AssertionError(f"build {build_sid} failed: {finished.get('error')}")
    env_api = sdk.services(service_sid).environments(environment.sid)
    existing = {v.key: v.sid for v in env_api.variables.list()}
    for key, value in (variables or {}).items():
        if key in existing:
            env_api.variables(existing[key]).update(value=value)
        else:
            env_api.variables.create(key=key, value=value)
    deployment = env_api.deployments.create(build_sid=build_sid)
    return Deployed(
        service_sid=service_sid,
        environment_sid=environment.sid,
        build_sid=build_sid,
        deployment_sid=deployment.sid,
        domain=environment.domain_name,
        resources=resources,
        versions=versions,
    )


def ensure_service(server: Serving, unique_name: str, *, include_credentials: bool = True) -> str:
    services = server.sdk().serverless.v1.services
    try:
        return str(services(unique_name).fetch().sid)
    except TwilioRestException as exc:
        if exc.status != 404:
            raise
    created = services.create(
        unique_name=unique_name,
        friendly_name=unique_name,
        include_credentials=include_credentials,
    )
    return str(created.sid)


def ensure_environment(server: Serving, service_sid: str, suffix: str | None) -> Any:
    """The environment with this domain suffix (None: the production one), created if needed."""
    environments = server.sdk().serverless.v1.services(service_sid).environments
    for environment in environments.list():
        if environment.domain_suffix == suffix:
            return environment
    if suffix is None:
        return environments.create(unique_name="production")
    return environments.create(unique_name=f"{suffix}-environment", domain_suffix=suffix)


def ensure_resource(server: Serving, service_sid: str, kind: str, path: str) -> str:
    """The Function (kind "Functions") or Asset ("Assets") named ``path``, created if needed."""
    service = server.sdk().serverless.v1.services(service_sid)
    collection = service.functions if kind == "Functions" else service.assets
    for item in collection.list():
        if item.friendly_name == path:
            return str(item.sid)
    return str(collection.create(friendly_name=path).sid)


def upload(
    server: Serving,
    service_sid: str,
    kind: str,
    resource_sid: str,
    path: str,
    content: bytes | str,
    visibility: str,
    language: str = "python",
) -> str:
    """POST one version (multipart: Path, Visibility, Content); returns its ZN SID. A function
    is sent as Twilio's toolkit sends it: ``name.js``, application/javascript (or ``.py``)."""
    data = content.encode() if isinstance(content, str) else content
    if kind == "Functions" and language == "node":
        filename, mime = path.rsplit("/", 1)[-1] + ".js", "application/javascript"
    elif kind == "Functions":
        filename, mime = path.rsplit("/", 1)[-1] + ".py", "text/x-python"
    else:
        filename = path.rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = server.client.post(
        f"/v1/Services/{service_sid}/{kind}/{resource_sid}/Versions",
        data={"Path": path, "Visibility": visibility},
        files={"Content": (filename, data, mime)},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


def build(
    server: Serving,
    service_sid: str,
    function_versions: list[str],
    asset_versions: list[str] | None = None,
    dependencies: list[dict[str, str]] | None = None,
    runtime: str = "python3.11",
) -> str:
    """Start a build (python3.11 unless ``runtime``); returns its ZB SID without waiting."""
    created = (
        server.sdk()
        .serverless.v1.services(service_sid)
        .builds.create(
            function_versions=function_versions,
            asset_versions=asset_versions or [],
            dependencies=json.dumps(dependencies or []),
            runtime=runtime,
        )
    )
    return str(created.sid)


def wait_for_build(
    server: Serving, service_sid: str, build_sid: str, timeout: float = BUILD_TIMEOUT
) -> dict[str, Any]:
    """Poll the SDK's build status until it is final; returns the build JSON (with ``error``)."""
    status = server.sdk().serverless.v1.services(service_sid).builds(build_sid).build_status()
    deadline = time.monotonic() + timeout
    while status.fetch().status == "building":
        if time.monotonic() > deadline:
            raise AssertionError(f"build {build_sid} still building after {timeout} s")
        time.sleep(0.05)
    response = server.client.get(f"/v1/Services/{service_sid}/Builds/{build_sid}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
