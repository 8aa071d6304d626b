"""Request and response limits, with small limits configured through CALLBOX_* variables."""

from __future__ import annotations

import asyncio

import httpx
import pytest

SCENARIO = "limits"
MAX_REQUEST_BYTES = 4096
MAX_RESPONSE_BYTES = 100_000
CONCURRENCY_LIMIT = 3


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.start(
        SCENARIO,
        env={
            "CALLBOX_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
            "CALLBOX_MAX_RESPONSE_BYTES": str(MAX_RESPONSE_BYTES),
            "CALLBOX_CONCURRENCY_LIMIT": str(CONCURRENCY_LIMIT),
        },
    )


def error_message(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    return body["message"]


# -- request size --------------------------------------------------------------------------


def test_body_under_the_limit_is_served(server):
    response = server.client.post("/ok", content=b"x" * 1000)
    assert response.status_code == 200
    assert response.text == "ok"


def test_body_over_the_limit_is_413_naming_the_configured_limit(server):
    response = server.client.post("/ok", content=b"x" * (MAX_REQUEST_BYTES + 1))
    message = error_message(response, 413)
    assert "too large" in message
    assert f"{MAX_REQUEST_BYTES} bytes" in message


def _chunks(total, size=1024):
    for offset in range(0, total, size):
        yield b"x" * min(size, total - offset)


def test_chunked_body_over_the_limit_is_413_naming_the_configured_limit(server):
    response = server.client.post("/ok", content=_chunks(MAX_REQUEST_BYTES * 2))
    message = error_message(response, 413)
    assert "too large" in message
    assert f"{MAX_REQUEST_BYTES} bytes" in message


def test_server_still_answers_after_413(server):
    server.client.post("/ok", content=b"x" * (MAX_REQUEST_BYTES * 4))
    response = server.client.get("/ok")
    assert response.status_code == 200


# -- request headers -----------------------------------------------------------------------


def test_more_than_90_headers_is_431(server):
    headers = {f"X-Header-{index}": "v" for index in range(95)}
    response = server.client.get("/ok", headers=headers)
    assert error_message(response, 431) == "Request headers or cookies too long"


def test_15_kb_of_headers_is_431(server):
    response = server.client.get("/ok", headers={"X-Big": "a" * (15 * 1024 + 100)})
    assert error_message(response, 431) == "Request headers or cookies too long"


def test_too_many_cookies_is_431(server):
    cookie = "; ".join(f"c{index}=1" for index in range(95))
    response = server.client.get("/ok", headers={"Cookie": cookie})
    assert error_message(response, 431) == "Request headers or cookies too long"


def test_headers_just_under_the_limits_are_served(server):
    headers = {f"X-Header-{index}": "v" for index in range(80)}
    response = server.client.get("/ok", headers=headers)
    assert response.status_code == 200


# -- response size and headers -------------------------------------------------------------


def test_response_at_the_limit_is_served(server):
    response = server.client.get("/big-response", params={"size": MAX_RESPONSE_BYTES})
    assert response.status_code == 200
    assert len(response.content) == MAX_RESPONSE_BYTES


def test_response_over_the_limit_is_500_naming_size_and_limit(server):
    response = server.client.get("/big-response", params={"size": MAX_RESPONSE_BYTES + 1})
    message = error_message(response, 500)
    assert f"{MAX_RESPONSE_BYTES + 1} bytes" in message
    assert f"at most {MAX_RESPONSE_BYTES} bytes" in message
    assert "4 MB" not in message


def test_server_still_answers_after_an_oversize_response(server):
    server.client.get("/big-response", params={"size": MAX_RESPONSE_BYTES * 3})
    response = server.client.get("/big-response", params={"size": 10})
    assert response.status_code == 200
    assert response.text == "x" * 10


def test_response_with_too_many_headers_is_431(server):
    response = server.client.get("/many-headers", params={"count": 100})
    assert error_message(response, 431) == "Response headers or cookies too long"


def test_response_with_a_few_headers_is_served(server):
    response = server.client.get("/many-headers", params={"count": 5})
    assert response.status_code == 200
    assert response.headers["x-header-4"] == "value"


# -- bodies --------------------------------------------------------------------------------


def test_malformed_json_is_400(server):
    response = server.client.post(
        "/ok", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    message = error_message(response, 400)
    assert message.startswith("Malformed JSON body")
    assert "line 1 column 2" in message


def test_json_scalar_body_is_400(server):
    response = server.client.post(
        "/ok", content=b"42", headers={"Content-Type": "application/json"}
    )
    message = error_message(response, 400)
    assert "object or an array" in message


# -- concurrency ---------------------------------------------------------------------------


async def _fire(base_url, path, count):
    async with httpx.AsyncClient(base_url=base_url, timeout=20.0) as client:
        return await asyncio.gather(*(client.get(path) for _ in range(count)))


def test_concurrency_over_the_limit_is_429(server):
    responses = asyncio.run(_fire(server.base_url, "/sleep", 2 * CONCURRENCY_LIMIT))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * CONCURRENCY_LIMIT + [429] * CONCURRENCY_LIMIT
    for response in responses:
        if response.status_code == 200:
            assert response.text == "slept"
        else:
            message = error_message(response, 429)
            assert f"the limit is {CONCURRENCY_LIMIT}" in message


def test_capacity_is_back_after_the_burst(server):
    responses = asyncio.run(_fire(server.base_url, "/sleep", CONCURRENCY_LIMIT))
    assert [response.status_code for response in responses] == [200] * CONCURRENCY_LIMIT
