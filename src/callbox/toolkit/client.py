"""ApiClient: the toolkit's one client of callbox's Serverless API. It owns every URL and every
call: commands ask it for services, environments, builds, variables and logs by SID (or a
service's unique name), never build a path themselves (tests/toolkit/test_client.py checks it).

Every failure becomes one ``ApiError`` whose message says what the server said (or that it
could not be reached) — never a traceback.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from callbox.routes import Kind
from callbox.toolkit.errors import ApiError, DeployError
from callbox.toolkit.printer import Printer
from callbox.toolkit.variables import check_variables

ENVIRONMENT_SID = re.compile(r"ZE[0-9a-f]{32}")

REFUSED = (
    "The server refused the credentials (401): check the account SID and auth token, or the "
    "API key and secret"
)
# Proxies from the environment (HTTP_PROXY, ...) are honoured, as by Twilio's toolkit, except
# for this machine: a local server is never reached through a proxy.
_LOCAL = {"all://127.0.0.1": None, "all://localhost": None, "all://*.localhost": None}


def api_error(response: httpx.Response, source: str = "") -> ApiError:
    """The one readable error of a refused request (its body must have been read)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 401:
        where = f" (they came from {source})" if source else ""
        hint = ""
        if source.startswith(".env"):  # a project made for Twilio keeps Twilio's there
            hint = " If they are Twilio's, use callbox's: -p PROFILE or --username/--password."
        return ApiError(f"{REFUSED}{where}.{hint}", 401, 20003)
    if not isinstance(body, dict) or not body.get("message"):
        return ApiError(
            f"HTTP {response.status_code} from {response.request.url}: the answer is not "
            "callbox's API (no JSON error). Check --url: it is the server's address, e.g. "
            "http://127.0.0.1:8080.",
            response.status_code,
        )
    return ApiError(str(body["message"]), response.status_code, int(body.get("code") or 0))


def server_url(url: str) -> str:
    """The server's base URL as users write it: without a trailing slash or ``/v1``."""
    cleaned = url.strip().rstrip("/")
    if cleaned.endswith("/v1"):
        cleaned = cleaned[: -len("/v1")]
    parsed = httpx.URL(cleaned) if "://" in cleaned else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ApiError(
            f'"{url}" is not a server URL: give http(s)://host[:port], e.g. '
            "http://127.0.0.1:8080 (--url, CALLBOX_URL or the profile)."
        )
    return cleaned


def environment_names(suffix: str) -> tuple[str, str]:
    """Unique and friendly name Twilio's toolkit gives an environment it creates."""
    unique = f"{suffix}-environment" if suffix else "production"
    return unique, f"{unique} Environment (Created by CLI)"


class ApiClient:
    """The Serverless API (``/v1``), the Debugger (``/monitor/v1``) and the account lookup
    (``/2010-04-01``) of one server, as one set of credentials sees them."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        timeout: float = 30.0,
        source: str = "",
        verify: bool = True,
    ) -> None:
        self.base_url = server_url(base_url)
        self.source = source  # where the credentials came from, said when they are refused
        self.http = httpx.Client(
            base_url=self.base_url,
            auth=(username, password),
            timeout=timeout,
            mounts=_LOCAL,
            verify=verify,
        )

    def close(self) -> None:
        self.http.close()

    # --- accounts -------------------------------------------------------------------------

    def account_of_key(self) -> str | None:
        """The account the credentials belong to. An API key's SID does not say: the server
        lists the key's own account for it, without the auth token."""
        listed = self._get("/2010-04-01/Accounts.json").get("accounts") or []
        sid = listed[0].get("sid") if listed and isinstance(listed[0], dict) else None
        return str(sid) if sid else None

    def first_services(self) -> dict[str, Any]:
        """The first page of services, one long: the cheapest read that proves credentials."""
        return self._get("/v1/Services", PageSize=1)

    # --- services -------------------------------------------------------------------------

    def services(self) -> list[dict[str, Any]]:
        return list(self._each("/v1/Services", "services"))

    def service(self, service: str) -> dict[str, Any]:
        """A service by SID or unique name."""
        return self._get(_service(service))

    def create_service(self, name: str) -> dict[str, Any] | None:
        """A new service as Twilio's toolkit creates it (credentials included); None when the
        name is taken."""
        try:
            return self._post(
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

    # --- environments ---------------------------------------------------------------------

    def environments(self, service: str) -> list[dict[str, Any]]:
        return list(self._each(f"{_service(service)}/Environments", "environments"))

    def environment(self, service: str, environment: str) -> dict[str, Any]:
        return self._get(_environment(service, environment))

    def find_environment(self, service: str, target: str) -> dict[str, Any] | None:
        """The environment whose SID is ``target`` (ZE...) or whose domain suffix it is (''
        for production); among several of one suffix, the one Twilio's toolkit would name."""
        if ENVIRONMENT_SID.fullmatch(target):
            try:
                return self.environment(service, target)
            except ApiError as exc:
                if exc.not_found:
                    return None
                raise
        matches = [
            env for env in self.environments(service) if (env.get("domain_suffix") or "") == target
        ]
        conventional = [e for e in matches if e["unique_name"] == environment_names(target)[0]]
        return next(iter(conventional or matches), None)

    def create_environment(self, service: str, suffix: str) -> dict[str, Any]:
        """A new environment, named as Twilio's toolkit names it; '' is production."""
        unique, friendly = environment_names(suffix)
        data = {"UniqueName": unique, "FriendlyName": friendly}
        if suffix:
            data["DomainSuffix"] = suffix
        return self._post(f"{_service(service)}/Environments", data)

    # --- functions, assets and their versions ---------------------------------------------

    def resources(self, service: str, kind: Kind) -> list[dict[str, Any]]:
        """The service's functions or assets."""
        collection, key = _collection(kind)
        return list(self._each(f"{_service(service)}/{collection}", key))

    def create_resource(self, service: str, kind: Kind, path: str) -> dict[str, Any]:
        """A new function or asset, named by the path its versions are served at."""
        return self._post(f"{_service(service)}/{_collection(kind)[0]}", {"FriendlyName": path})

    def upload_version(
        self,
        service: str,
        kind: Kind,
        resource_sid: str,
        *,
        path: str,
        visibility: str,
        content: bytes | BinaryIO,
        content_type: str,
    ) -> dict[str, Any]:
        """A new version of a function or asset (multipart); an open file is streamed, never
        read whole."""
        url = f"{_service(service)}/{_collection(kind)[0]}/{resource_sid}/Versions"
        return self._request(
            "POST",
            url,
            data={"Path": path, "Visibility": visibility},
            files={"Content": (path.rsplit("/", 1)[-1] or "file", content, content_type)},
        )

    # --- builds ---------------------------------------------------------------------------

    def builds(self, service: str) -> list[dict[str, Any]]:
        return list(self._each(f"{_service(service)}/Builds", "builds"))

    def build(self, service: str, build: str) -> dict[str, Any]:
        return self._get(f"{_service(service)}/Builds/{build}")

    def build_status(self, service: str, build: str) -> str:
        """building, completed or failed: the cheap read a client polls."""
        return str(self._get(f"{_service(service)}/Builds/{build}/Status")["status"])

    def create_build(
        self,
        service: str,
        *,
        function_versions: Sequence[str] = (),
        asset_versions: Sequence[str] = (),
        dependencies: str | None = None,
        runtime: str | None = None,
    ) -> dict[str, Any]:
        """A build of these versions; ``dependencies`` is the field as sent, None leaves it
        out (as ``runtime``: the server then chooses). It starts ``building``:
        ``wait_for_build`` follows it."""
        data: dict[str, Any] = {}
        if function_versions:
            data["FunctionVersions"] = list(function_versions)
        if asset_versions:
            data["AssetVersions"] = list(asset_versions)
        if dependencies is not None:
            data["Dependencies"] = dependencies
        if runtime is not None:
            data["Runtime"] = runtime
        return self._post(f"{_service(service)}/Builds", data)

    def wait_for_build(
        self, service: str, build: str, say: Printer, timeout: float = 300.0
    ) -> dict[str, Any]:
        """Poll the build's ``/Status`` (with a live status line) until it completes; its JSON.
        A failed build, or one still building after ``timeout`` seconds, is a DeployError."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        with say.status(f"Build {build}: building") as status:
            while True:
                state = self.build_status(service, build)
                status.update(f"Build {build}: {state}")
                if state == "completed":
                    return self.build(service, build)
                if state == "failed":
                    reason = self.build(service, build).get("error") or "no reason was recorded"
                    lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
                    raise DeployError(f"Build {build} failed: {'; '.join(lines)}")
                if time.monotonic() > deadline:
                    raise DeployError(
                        f"Build {build} did not finish within {timeout:.0f} s; its status is "
                        "still building and nothing was activated. Check it later with "
                        "`callbox list builds`."
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)  # builds often take ~25 ms; slow ones poll at 1 s

    # --- variables ------------------------------------------------------------------------

    def variables(self, service: str, environment: str) -> list[dict[str, Any]]:
        """An environment's variables, with their values."""
        return list(self._each(f"{_environment(service, environment)}/Variables", "variables"))

    def delete_variable(self, service: str, environment: str, variable: str) -> None:
        self._delete(f"{_environment(service, environment)}/Variables/{variable}")

    def set_variables(
        self,
        service: str,
        environment: str,
        values: dict[str, str],
        *,
        source: Path | str = "the variables",
        remove_others: bool = False,
    ) -> None:
        """Create or update each variable (unchanged ones are left alone), like Twilio's
        toolkit; ``remove_others`` also deletes remote variables missing from ``values`` (env
        import). Nothing is changed when ``values`` break the server's limits (said naming
        ``source``)."""
        check_variables(values, source)
        base = f"{_environment(service, environment)}/Variables"
        existing = {v["key"]: v for v in self.variables(service, environment)}
        if remove_others:  # first, so the new set never counts against the 3 KB limit twice
            for key, variable in existing.items():
                if key not in values:
                    self.delete_variable(service, environment, variable["sid"])
        # Changes that shrink the set go first: the server checks the 3 KB total after each
        # one, so a set that fits as a whole must not fail half way.
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
                self._post(base, {"Key": key, "Value": value})
            else:
                self._post(f"{base}/{current['sid']}", {"Value": value})

    # --- deployments and logs -------------------------------------------------------------

    def activate(self, service: str, environment: str, build: str) -> dict[str, Any]:
        """Deploy ``build`` to the environment: its new deployment."""
        return self._post(f"{_environment(service, environment)}/Deployments", {"BuildSid": build})

    def logs(
        self, service: str, environment: str, *, page_size: int, function: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest log lines of an environment (of one function), newest first."""
        params: dict[str, Any] = {"PageSize": page_size}
        if function:
            params["FunctionSid"] = function
        return list(self._get(self.logs_path(service, environment), **params).get("logs", []))

    def logs_path(self, service: str, environment: str) -> str:
        """The environment's log lines; ``/Stream`` after it is their live stream (server-sent
        events, read by ``commands/logs.py``'s Follower on ``http``)."""
        return f"{_environment(service, environment)}/Logs"

    # --- the Debugger (Monitor v1) --------------------------------------------------------

    def alerts(self, *, limit: int, **filters: Any) -> list[dict[str, Any]]:
        """The newest alerts (at most ``limit``), narrowed by Monitor's filters (LogLevel, ...)."""
        found: list[dict[str, Any]] = []
        page = self._get(ALERTS, PageSize=min(limit, 1000), **_sent(filters))
        while True:
            found += page.get("alerts", [])[: limit - len(found)]
            next_url = page.get("meta", {}).get("next_page_url")
            if len(found) >= limit or not next_url:
                return found
            page = self._request("GET", next_url)

    def alert_groups(self, by: str, **filters: Any) -> list[dict[str, Any]]:
        """The alerts grouped by function URL (``url``) or error code (``error_code``)."""
        return list(self._get(f"{ALERTS}/Grouped", By=by, **_sent(filters)).get("groups", []))

    # --- the transport: JSON objects, every failure one ApiError --------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Cannot reach the callbox server at {self.base_url}: {exc}. Is it running "
                "(callbox serve), and is the URL right?"
            ) from None
        if response.status_code == 204:
            return {}
        if response.status_code >= 400:
            raise api_error(response, self.source)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(
                f"The answer from {response.request.url} is not callbox's API (not a JSON "
                "object). Check --url: it is the server's address, e.g. http://127.0.0.1:8080."
            )
        return body

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", path, params=params or None)

    def _post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", path, data=data or {})

    def _delete(self, path: str) -> None:
        self._request("DELETE", path)

    def _each(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        """Every item of a list, following next_page_url."""
        page = self._get(path, PageSize=1000)
        while True:
            yield from page.get(key, [])
            next_url = page.get("meta", {}).get("next_page_url")
            if not next_url:
                return
            page = self._request("GET", next_url)


ALERTS = "/monitor/v1/Alerts"


def _sent(filters: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in filters.items() if value not in (None, "")}


def _service(service: str) -> str:
    return f"/v1/Services/{service}"


def _environment(service: str, environment: str) -> str:
    return f"/v1/Services/{service}/Environments/{environment}"


def _collection(kind: Kind) -> tuple[str, str]:
    """The URL segment and the list key of functions or assets."""
    return ("Functions", "functions") if kind == "function" else ("Assets", "assets")
