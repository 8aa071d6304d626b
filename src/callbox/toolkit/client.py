"""A small client of callbox's Serverless API, used by the toolkit commands.

Every failure becomes one ``ApiError`` whose message says what the server said (or that it
could not be reached) — never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, message: str, status: int = 0, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def api_error(response: httpx.Response) -> ApiError:
    """The one readable error of a refused request (its body must have been read)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or response.text[:200] or response.reason_phrase
    if response.status_code == 401:
        message = (
            "The server refused the credentials (401): check the account SID and auth "
            "token, or the API key and secret."
        )
    return ApiError(str(message), response.status_code, int(body.get("code") or 0))


class ApiClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url, auth=(username, password), timeout=timeout, trust_env=False
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
            raise api_error(response)
        try:
            return dict(response.json())
        except ValueError:
            return {}

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", path, data=data or {})

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def upload(
        self, path: str, *, route: str, visibility: str, content: bytes, content_type: str
    ) -> dict[str, Any]:
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
