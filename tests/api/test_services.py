from __future__ import annotations

import asyncio
import base64
import re

import httpx
import pytest
import sqlalchemy as sa
from factories import TIMESTAMP, hold_after_the_check, service, walk

from callbox.api import services
from callbox.store.db import Store
from callbox.store.tables import services as services_table


async def create(client: httpx.AsyncClient, name: str) -> httpx.Response:
    """A create of service ``name``; the answer, unchecked."""
    return await client.post("/v1/Services", data={"UniqueName": name, "FriendlyName": name})


async def test_create_answers_the_wire_format(client: httpx.AsyncClient) -> None:
    body = await service(client)
    assert re.match(r"^ZS[0-9a-f]{32}$", body["sid"])
    assert body["unique_name"] == "my-app"
    assert body["include_credentials"] is True and body["ui_editable"] is False
    assert re.match(r"^my-app-\d{4}$", body["domain_base"])
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])
    assert body["url"] == f"http://api.test/v1/Services/{body['sid']}"
    assert body["links"]["environments"] == body["url"] + "/Environments"


async def test_fetch_by_sid_or_unique_name(client: httpx.AsyncClient) -> None:
    body = await service(client)
    for key in (body["sid"], "my-app"):
        r = await client.get(f"/v1/Services/{key}")
        assert r.status_code == 200 and r.json()["sid"] == body["sid"]


async def test_update_and_unique_name_is_immutable(client: httpx.AsyncClient) -> None:
    body = await service(client)
    r = await client.post(
        f"/v1/Services/{body['sid']}", data={"FriendlyName": "New", "UiEditable": "true"}
    )
    assert r.status_code == 200
    assert r.json()["friendly_name"] == "New" and r.json()["ui_editable"] is True
    r = await client.post(f"/v1/Services/{body['sid']}", data={"UniqueName": "other"})
    assert r.status_code == 400 and r.json()["code"] == 20001


async def test_delete_then_404(client: httpx.AsyncClient) -> None:
    body = await service(client)
    r = await client.delete(f"/v1/Services/{body['sid']}")
    assert r.status_code == 204 and r.content == b""
    r = await client.get(f"/v1/Services/{body['sid']}")
    assert r.status_code == 404
    assert r.json() == {
        "code": 20404,
        "message": f"The requested resource /Services/{body['sid']} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


async def test_duplicate_unique_name_is_409(client: httpx.AsyncClient) -> None:
    await service(client)
    r = await client.post("/v1/Services", data={"UniqueName": "my-app", "FriendlyName": "x"})
    assert r.status_code == 409


async def test_concurrent_creates_of_one_name_answer_201_and_409(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: both passed the "taken" check and the loser's INSERT answered 500.
    hold_after_the_check(monkeypatch, services)
    answers = await asyncio.gather(create(client, "same"), create(client, "same"))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]


async def test_bad_unique_names(client: httpx.AsyncClient) -> None:
    for name in ("a" * 50, "has space", "-lead", "trail-", "under_score", "dots.no"):
        r = await client.post("/v1/Services", data={"UniqueName": name, "FriendlyName": "x"})
        assert r.status_code == 400, name
        assert r.json()["code"] == 20001
    r = await client.post("/v1/Services", data={"UniqueName": "a" * 49, "FriendlyName": "x"})
    assert r.status_code == 201


async def test_missing_parameters(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/Services", data={"FriendlyName": "x"})
    assert r.status_code == 400
    assert r.json()["message"] == "Missing required parameter UniqueName in the post body"
    r = await client.post("/v1/Services", data={"UniqueName": "x"})
    assert r.status_code == 400 and "FriendlyName" in r.json()["message"]
    r = await client.post(
        "/v1/Services", data={"UniqueName": "x", "FriendlyName": "y", "IncludeCredentials": "maybe"}
    )
    assert r.status_code == 400 and "IncludeCredentials" in r.json()["message"]


async def test_fifty_services_per_account(client: httpx.AsyncClient) -> None:
    for i in range(50):
        await service(client, f"s{i}")
    r = await client.post("/v1/Services", data={"UniqueName": "one-more", "FriendlyName": "x"})
    assert r.status_code == 400 and "50" in r.json()["message"]


async def test_concurrent_creates_respect_fifty_services(
    client: httpx.AsyncClient, store: Store, owner: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: the count was read outside the write lock and two creates made 51.
    for i in range(49):
        await service(client, f"s{i}")
    hold_after_the_check(monkeypatch, services)
    answers = await asyncio.gather(create(client, "last-a"), create(client, "last-b"))
    assert sorted(r.status_code for r in answers) == [201, 400], [r.text for r in answers]
    with store.begin() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(services_table.c.account_sid == owner[0])
        ).scalar_one()
    assert count == 50


async def test_pagination_walks_every_service_once(client: httpx.AsyncClient) -> None:
    made = [(await service(client, f"p{i}"))["sid"] for i in range(7)]
    seen, body = await walk(
        client,
        "/v1/Services",
        key="services",
        prefix="http://api.test/v1/Services?",
        PageSize=3,
    )
    assert [s["sid"] for s in seen] == made
    assert body["meta"]["page"] == 2
    back = await client.get(body["meta"]["previous_page_url"])
    assert [s["sid"] for s in back.json()["services"]] == made[3:6]


async def test_a_page_number_without_a_token_counts_from_the_start(
    client: httpx.AsyncClient,
) -> None:
    # From issue 13: ?Page=2 answered page 0's items labelled "page": 2.
    made = [(await service(client, f"n{i}"))["sid"] for i in range(7)]
    r = await client.get("/v1/Services", params={"PageSize": 3, "Page": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["page"] == 2
    assert [s["sid"] for s in body["services"]] == made[6:]
    assert body["meta"]["next_page_url"] is None
    back = await client.get(body["meta"]["previous_page_url"])
    assert [s["sid"] for s in back.json()["services"]] == made[3:6]
    r = await client.get("/v1/Services", params={"PageSize": 3, "Page": 1})
    assert [s["sid"] for s in r.json()["services"]] == made[3:6]
    nxt = await client.get(r.json()["meta"]["next_page_url"])
    assert [s["sid"] for s in nxt.json()["services"]] == made[6:]
    r = await client.get("/v1/Services", params={"PageSize": 3, "Page": 9})
    assert r.status_code == 200 and r.json()["services"] == []
    r = await client.get("/v1/Services", params={"PageSize": 1000, "Page": 10**16})
    assert r.status_code == 400 and "Page" in r.json()["message"]


async def test_page_size_rules(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/Services", params={"PageSize": 5000})
    assert r.status_code == 200 and r.json()["meta"]["page_size"] == 1000
    for bad in ("0", "-1", "abc"):
        r = await client.get("/v1/Services", params={"PageSize": bad})
        assert r.status_code == 400, bad
    r = await client.get("/v1/Services", params={"PageToken": "garbage"})
    assert r.status_code == 400


async def test_a_deeply_nested_page_token_is_a_400(client: httpx.AsyncClient) -> None:
    # From the review: decoding it raised RecursionError, a 500.
    token = "PT" + base64.urlsafe_b64encode(b"[" * 5000).decode()
    r = await client.get("/v1/Services", params={"PageToken": token})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 20001 and "PageToken" in r.json()["message"]


async def test_credentials(client: httpx.AsyncClient, owner: tuple[str, str]) -> None:
    for auth in ((owner[0], "wrong"), ("ACnot", "x"), ("", "")):
        r = await client.get("/v1/Services", auth=auth)
        assert r.status_code == 401 and r.json()["code"] == 20003
    r = await client.get("/v1/Services", auth=None, headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "value", [b"Basic \xc3\xa9", b"Basic \xff\xfe", b"basic YWJj\xe9", b"Basic " + "é".encode()]
)
async def test_a_non_ascii_authorization_header_is_a_401(
    client: httpx.AsyncClient, value: bytes
) -> None:
    # From issue 13: base64 decoding raised ValueError, a 500.
    r = await client.get("/v1/Services", auth=None, headers={"Authorization": value})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == 20003


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    body = await service(client)
    assert (await other.get(f"/v1/Services/{body['sid']}")).status_code == 404
    assert (await other.get("/v1/Services/my-app")).status_code == 404
    assert (
        await other.post(f"/v1/Services/{body['sid']}", data={"FriendlyName": "x"})
    ).status_code == 404
    assert (await other.delete(f"/v1/Services/{body['sid']}")).status_code == 404
    assert (await other.get("/v1/Services")).json()["services"] == []
    # the same unique name is free in another account, with its own domain
    r = await other.post("/v1/Services", data={"UniqueName": "my-app", "FriendlyName": "x"})
    assert r.status_code == 201 and r.json()["domain_base"] != body["domain_base"]


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/Nothing")
    assert r.status_code == 404 and r.json()["code"] == 20404
    r = await client.put("/v1/Services")
    assert r.status_code == 405


async def test_booleans_are_true_or_false(client: httpx.AsyncClient) -> None:
    # The schema-driven fuzz run found UiEditable=0 accepted where the document says boolean:
    # the SDKs send true or false (Python's requests writes True as "True").
    for word in ("1", "0", "yes", "on"):
        r = await client.post(
            "/v1/Services", data={"UniqueName": "b", "FriendlyName": "b", "UiEditable": word}
        )
        assert r.status_code == 400, word
        assert r.json()["message"] == f"Parameter UiEditable must be true or false; found {word!r}"
    r = await client.post(
        "/v1/Services", data={"UniqueName": "b", "FriendlyName": "b", "UiEditable": "True"}
    )
    assert r.status_code == 201 and r.json()["ui_editable"] is True
