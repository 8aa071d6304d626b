"""/monitor/v1/Webhook (api/alerts.py): the account's Debugger webhook, and its bad inputs."""

from __future__ import annotations

import httpx
import pytest

PATH = "/monitor/v1/Webhook"


async def test_set_read_and_remove(client: httpx.AsyncClient) -> None:
    assert (await client.get(PATH)).json()["url"] is None
    r = await client.post(PATH, data={"Url": "https://hooks.example.com/debugger?x=1"})
    assert r.status_code == 200 and r.json()["url"] == "https://hooks.example.com/debugger?x=1"
    assert (await client.get(PATH)).json()["url"] == "https://hooks.example.com/debugger?x=1"
    assert (await client.delete(PATH)).status_code == 204
    assert (await client.get(PATH)).json()["url"] is None


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://hooks.example.com/",
        "javascript:alert(1)",
        "http://exämple.com/hook",
        "http://hooks.example.com:99999/",
        "https://" + "a" * 3000 + ".example.com/",
    ],
)
async def test_a_url_that_is_not_one_is_400(client: httpx.AsyncClient, url: str) -> None:
    r = await client.post(PATH, data={"Url": url})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == 400 and "Url" in body["message"]
    assert (await client.get(PATH)).json()["url"] is None  # nothing was kept


async def test_an_international_name_is_explained(client: httpx.AsyncClient) -> None:
    r = await client.post(PATH, data={"Url": "http://exämple.com/hook"})
    assert "in ASCII (an international name in its xn-- form)" in r.json()["message"]
    r = await client.post(PATH, data={"Url": "http://xn--exmple-cua.com/hook"})
    assert r.status_code == 200
