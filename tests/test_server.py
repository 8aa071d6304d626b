"""server.py: one port, routed by Host; forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbox.config import Config
from callbox.monitor.access import AccessLog
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


async def call(server: Server, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one ASGI call with ``scope``; the messages the server sent."""
    sent: list[dict[str, Any]] = []
    first = {"websocket": "websocket.connect", "http": "http.request"}[scope["type"]]
    messages = [{"type": first, "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    await server(scope, receive, send)
    return sent


def scope_of(kind: str, headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "method": "GET",
        "scheme": "http" if kind == "http" else "ws",
        "path": "/health",
        "raw_path": b"/health",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        **extra,
    }


@pytest.mark.parametrize("first", [b"shop-1234.localhost", b"127.0.0.1:8080"])
async def test_two_host_headers_are_a_400(server: Server, first: bytes) -> None:
    # From issue 13: the first Host routed the request.
    headers = [(b"host", first), (b"host", b"other-1234.localhost")]
    sent = await call(server, scope_of("http", headers))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert b"2 Host headers" in sent[1]["body"]


@pytest.mark.parametrize("host", [b"shop-1234.localhost:8080", b"127.0.0.1:8080"])
async def test_a_websocket_handshake_is_refused_with_a_400(server: Server, host: bytes) -> None:
    # From issue 13: an environment domain answered 500 (the handshake was never answered).
    extensions = {"websocket.http.response": {}}
    sent = await call(server, scope_of("websocket", [(b"host", host)], extensions=extensions))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 400
    assert b"WebSocket connections are not supported" in sent[1]["body"]


async def test_a_websocket_handshake_without_the_denial_extension_is_closed(
    server: Server,
) -> None:
    sent = await call(server, scope_of("websocket", [(b"host", b"shop-1234.localhost")]))
    assert [m["type"] for m in sent] == ["websocket.close"]


async def test_health_checks_are_left_out_of_the_access_log(server: Server) -> None:
    out = io.StringIO()
    server.access_log = AccessLog(out)
    async with client(server, "127.0.0.1:8080") as api:
        assert (await api.get("/health")).status_code == 200
        assert (await api.get("/ready")).status_code == 200
        assert (await api.get("/v1/Services")).status_code == 401
    async with client(server, "nothing-1234.localhost:8080") as env:
        assert (await env.get("/nope")).status_code == 404
        assert (await env.get("/health")).status_code == 404  # an environment's: logged
    server.access_log.flush()
    paths = [line.split('"')[1] for line in out.getvalue().splitlines()]
    assert paths == ["GET /v1/Services HTTP/1.1", "GET /nope HTTP/1.1", "GET /health HTTP/1.1"]
