"""A small client of callbox's Serverless API, used by the toolkit commands.

Every failure becomes one ``ApiError`` whose message says what the server said (or that it
could not be reached) — never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import httpx

from callbox.toolkit.errors import ApiError

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


class ApiClient:
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

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
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

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", path, data=data or {})

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def upload(
        self,
        path: str,
        *,
        route: str,
        visibility: str,
        content: bytes | BinaryIO,
        content_type: str,
    ) -> dict[str, Any]:
        """A version upload (multipart); an open file is streamed, never read whole."""
        return self.request(
            "POST",
            path,
            data={"Path": route, "Visibility": visibility},
            files={"Content": (route.rsplit("/", 1)[-1] or "file", content, content_type)},
        )

    def each(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        """Every item of a list, following next_page_url."""
        page = self.get(path, PageSize=1000)
        while True:
            yield from page.get(key, [])
            next_url = page.get("meta", {}).get("next_page_url")
            if not next_url:
                return
            page = self.request("GET", next_url)
