"""server.py: one port, routed by Host; forwarded headers believed only from trusted proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbox.config import Config
from callbox.server import Server, create_server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    config = Config.load({}, data_dir=str(tmp_path / "data"), trusted_proxies="10.0.0.0/8")
    made = create_server(config)
    made.accounts.ensure_owner()
    await made.startup()
    yield made
    await made.shutdown()


def client(server: Server, host: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=server, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop-1234.localhost", True),
        ("shop-1234-dev.localhost", True),
        ("localhost", False),
        # From the review: any one label went to the gateway, so no API at api.<base domain>.
        ("api.localhost", False),
        ("shop.localhost", False),
        ("shop-12345.localhost", False),
        ("a.b.localhost", False),
        ("127.0.0.1", False),
        ("localhost.evil", False),
        ("[::1]", False),
    ],
)
def test_environment_domains(tmp_path: Path, host: str, expected: bool) -> None:
    made = create_server(Config.load({}, data_dir=str(tmp_path)))
    try:
        assert made.is_environment_domain(host) is expected
    finally:
        made.store.close()


async def test_api_and_gateway_share_the_port(server: Server) -> None:
    async with client(server, "127.0.0.1:8080") as api:
        r = await api.get("/health")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        r = await api.get("/v1/Services")
        assert r.status_code == 401 and r.json()["code"] == 20003
    async with client(server, "nothing-1234.localhost:8080") as env:
        r = await env.get("/health")
        assert r.status_code == 404 and r.json()["code"] == 20404
        assert "nothing-1234.localhost" in r.json()["message"]


async def test_the_api_answers_at_a_name_under_the_base_domain(server: Server) -> None:
    async with client(server, "api.localhost:8080") as api:
        r = await api.get("/v1/Services")
        assert r.status_code == 401 and r.json()["code"] == 20003  # the API's, not a gateway 404


async def test_forwarded_headers_only_from_trusted_proxies(server: Server) -> None:
    seen: list[dict[str, Any]] = []

    async def api(scope: Any, receive: Any, send: Any) -> None:
        seen.append({"scheme": scope["scheme"], "host": dict(scope["headers"])[b"host"]})
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server.api = api
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    async with client(server, "127.0.0.1", address="10.1.2.3") as trusted:
        await trusted.get("/", headers=headers)
    async with client(server, "127.0.0.1", address="192.168.1.9") as stranger:
        await stranger.get("/", headers=headers)
    assert seen == [
        {"scheme": "https", "host": b"api.example.com"},
        {"scheme": "http", "host": b"127.0.0.1"},
    ]


def test_a_bad_trusted_proxy_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        create_server(Config.load({}, data_dir=str(tmp_path), trusted_proxies="not-an-ip"))
