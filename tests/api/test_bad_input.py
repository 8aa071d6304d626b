"""Every route, fed malformed input: always a Twilio error body with a 4xx status, never a 500.

The routes come from the route table, so a new endpoint is covered the day it is added.
"""

from __future__ import annotations

import re

import httpx
import pytest

from callbox.api.app import resource_routes

ROUTES = sorted({(path, method) for path, method, _handler in resource_routes()})
BAD_IDS = ["x", "ZS" + "g" * 32, "ZB" + "0" * 32, "%00", "a" * 300, "..", "é"]
BAD_BODIES: list[dict] = [
    {"content": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"content": b"%%%&&&===", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"content": b'{"UniqueName": 1}', "headers": {"Content-Type": "application/json"}},
    {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
    {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {
        "data": {
            "UniqueName": "\x00" * 60,
            "FriendlyName": "x" * 300,
            "Key": "",
            "Value": "v" * 500,
            "BuildSid": "nope",
            "FunctionVersions": "ZN123",
            "Dependencies": "[{",
            "Runtime": "cobol",
            "DomainSuffix": "UPPER CASE",
            "IncludeCredentials": "perhaps",
            "PageSize": "-3",
        }
    },
]


# Creates whose every parameter is optional (FriendlyName defaults), as on Twilio.
EVERYTHING_OPTIONAL = {"/2010-04-01/Accounts.json", "/2010-04-01/Accounts/{AccountSid}/Keys.json"}


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[A-Za-z]+\}", value, path)


def assert_twilio_error(r: httpx.Response) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert set(body) >= {"code", "message", "more_info", "status"}, body
    assert body["status"] == r.status_code


@pytest.mark.parametrize(("path", "method"), [r for r in ROUTES if "{" in r[0]])
async def test_malformed_sids_in_the_url(client: httpx.AsyncClient, path: str, method: str) -> None:
    for bad in BAD_IDS:
        r = await client.request(method, fill(path, bad))
        assert_twilio_error(r)


@pytest.mark.parametrize(("path", "method"), [r for r in ROUTES if r[1] == "POST"])
async def test_malformed_bodies(client: httpx.AsyncClient, path: str, method: str) -> None:
    # A real service, so the bodies reach the parameter checks of sub-resources too.
    service = await client.post("/v1/Services", data={"UniqueName": "svc", "FriendlyName": "S"})
    url = path.replace("{ServiceSid}", service.json()["sid"])
    url = fill(url, "ZE" + "0" * 32)
    for body in BAD_BODIES:
        r = await client.request(method, url, **body)
        if path in EVERYTHING_OPTIONAL and r.status_code < 300:
            continue  # nothing to get wrong: an account or key with a default name
        assert_twilio_error(r)


@pytest.mark.parametrize(("path", "method"), [r for r in ROUTES if r[1] == "GET"])
async def test_malformed_list_parameters(client: httpx.AsyncClient, path: str, method: str) -> None:
    url = fill(path, "svc")
    for params in ({"PageSize": "x"}, {"Page": "-1"}, {"PageToken": "PT!!"}, {"StartDate": "nope"}):
        r = await client.get(url, params=params)
        assert r.status_code != 500, (url, params, r.text)
        if r.status_code >= 400:
            assert_twilio_error(r)


@pytest.mark.parametrize(("path", "method"), ROUTES)
async def test_wrong_credentials(client: httpx.AsyncClient, path: str, method: str) -> None:
    for auth in (("AC" + "0" * 32, "x"), ("SK" + "0" * 32, "x"), ("", "")):
        r = await client.request(method, fill(path, "x"), auth=auth)
        assert r.status_code == 401 and r.json()["code"] == 20003
