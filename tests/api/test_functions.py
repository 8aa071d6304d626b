from __future__ import annotations

import re

import httpx
import sqlalchemy as sa
from factories import TIMESTAMP, deployed, function, service, upload, walk

from callbox.store.db import Store
from callbox.store.tables import environments, resources, versions


async def make_service(client: httpx.AsyncClient, name: str = "app") -> str:
    return (await service(client, name))["sid"]


async def make_version(client: httpx.AsyncClient, service: str, function: str) -> str:
    r = await upload(client, f"/v1/Services/{service}/Functions/{function}/Versions")
    assert r.status_code == 201, r.text
    return r.json()["sid"]


async def test_create_answers_the_wire_format(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    body = await function(client, service)
    assert re.match(r"^ZH[0-9a-f]{32}$", body["sid"])
    url = f"http://api.test/v1/Services/{service}/Functions/{body['sid']}"
    assert body == {
        "sid": body["sid"],
        "account_sid": body["account_sid"],
        "service_sid": service,
        "friendly_name": "/hello",
        "date_created": body["date_created"],
        "date_updated": body["date_updated"],
        "url": url,
        "links": {"function_versions": f"{url}/Versions"},
    }
    assert body["account_sid"].startswith("AC")
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])


async def test_fetch_by_service_sid_or_unique_name(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    body = await function(client, service)
    for key in (service, "app"):
        r = await client.get(f"/v1/Services/{key}/Functions/{body['sid']}")
        assert r.status_code == 200 and r.json() == body
    r = await client.post("/v1/Services/app/Functions", data={"FriendlyName": "by-name"})
    assert r.status_code == 201 and r.json()["service_sid"] == service
    assert r.json()["url"].startswith(f"http://api.test/v1/Services/{service}/")


async def test_friendly_name_rules(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    url = f"/v1/Services/{service}/Functions"
    r = await client.post(url, data={})
    assert r.status_code == 400 and r.json() == {
        "code": 20001,
        "message": "Missing required parameter FriendlyName in the post body",
        "more_info": "https://www.twilio.com/docs/errors/20001",
        "status": 400,
    }
    r = await client.post(url, data={"FriendlyName": ""})
    assert r.status_code == 400
    r = await client.post(url, data={"FriendlyName": "x" * 256})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Parameter FriendlyName is too long: at most 255 characters, found 256"
    )
    r = await client.post(url, data={"FriendlyName": "x" * 255})
    assert r.status_code == 201
    # names need not be unique
    assert (await client.post(url, data={"FriendlyName": "x" * 255})).status_code == 201


async def test_update(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    body = await function(client, service)
    url = f"/v1/Services/{service}/Functions/{body['sid']}"
    r = await client.post(url, data={"FriendlyName": "/renamed"})
    assert r.status_code == 200
    assert r.json()["friendly_name"] == "/renamed" and r.json()["sid"] == body["sid"]
    assert r.json()["date_created"] == body["date_created"]
    assert (await client.get(url)).json()["friendly_name"] == "/renamed"
    for data in ({}, {"FriendlyName": ""}, {"FriendlyName": "y" * 256}):
        r = await client.post(url, data=data)
        assert r.status_code == 400 and "FriendlyName" in r.json()["message"], data


async def test_list_and_pagination(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    made = [(await function(client, service, f"/f{i}"))["sid"] for i in range(5)]
    # assets share the table but are not functions
    await client.post(f"/v1/Services/{service}/Assets", data={"FriendlyName": "a"})
    # nor are another service's functions
    await function(client, await make_service(client, "second"))
    seen, _ = await walk(client, f"/v1/Services/{service}/Functions", key="functions", PageSize=2)
    assert [f["sid"] for f in seen] == made
    r = await client.get(f"/v1/Services/{service}/Functions", params={"PageSize": "-1"})
    assert r.status_code == 400


async def test_unknown_and_malformed_sids(client: httpx.AsyncClient) -> None:
    service = await make_service(client)
    body = await function(client, service)
    r = await client.post(f"/v1/Services/{service}/Assets", data={"FriendlyName": "a"})
    asset = r.json()["sid"]
    for url in (
        f"/v1/Services/{service}/Functions/ZH{'0' * 32}",
        f"/v1/Services/{service}/Functions/hello",
        f"/v1/Services/{service}/Functions/ZS{body['sid'][2:]}",
        f"/v1/Services/{service}/Functions/{asset}",  # an asset is not a function
        f"/v1/Services/{service}/Assets/{body['sid']}",
        f"/v1/Services/nope/Functions/{body['sid']}",
        "/v1/Services/nope/Functions",
    ):
        r = await client.get(url)
        assert r.status_code == 404, url
        assert r.json()["message"] == f"The requested resource {url[3:]} was not found"
        if url.endswith("/Functions"):
            continue
        assert (await client.post(url, data={"FriendlyName": "x"})).status_code == 404
        assert (await client.delete(url)).status_code == 404
    r = await client.post("/v1/Services/nope/Functions", data={"FriendlyName": "x"})
    assert r.status_code == 404


async def test_delete_takes_the_versions(client: httpx.AsyncClient, store: Store) -> None:
    service = await make_service(client)
    body = await function(client, service)
    version = await make_version(client, service, body["sid"])
    kept = await make_version(client, service, (await function(client, service))["sid"])
    r = await client.delete(f"/v1/Services/{service}/Functions/{body['sid']}")
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(f"/v1/Services/{service}/Functions/{body['sid']}")).status_code == 404
    with store.begin() as conn:
        left = set(conn.execute(sa.select(versions.c.sid)).scalars())
        assert (
            conn.execute(sa.select(resources).where(resources.c.sid == body["sid"])).first() is None
        )
    assert version not in left and kept in left


async def test_delete_refused_while_deployed(client: httpx.AsyncClient, store: Store) -> None:
    service = await make_service(client)
    body = await function(client, service)
    version = await make_version(client, service, body["sid"])
    url = f"/v1/Services/{service}/Functions/{body['sid']}"
    svc = {"sid": service, "account_sid": body["account_sid"]}
    _build, environment = deployed(store, svc, [version])
    r = await client.delete(url)
    assert r.status_code == 409
    assert r.json()["code"] == 20409
    assert r.json()["message"] == (
        f"Function {body['sid']} is part of the build deployed in environment {environment}; "
        "deploy a build without it first."
    )
    assert (await client.get(url)).status_code == 200
    assert (await client.get(f"{url}/Versions/{version}")).status_code == 200
    # once the environment serves a build without it, it can go
    other = await make_version(client, service, (await function(client, service))["sid"])
    newer, _ = deployed(store, svc, [other])
    with store.begin() as conn:
        conn.execute(
            environments.update().where(environments.c.sid == environment).values(build_sid=newer)
        )
    assert (await client.delete(url)).status_code == 204


async def test_delete_allowed_when_only_an_undeployed_build_has_it(
    client: httpx.AsyncClient, store: Store
) -> None:
    service = await make_service(client)
    body = await function(client, service)
    version = await make_version(client, service, body["sid"])
    svc = {"sid": service, "account_sid": body["account_sid"]}
    _build, environment = deployed(store, svc, [version])
    with store.begin() as conn:
        conn.execute(
            environments.update().where(environments.c.sid == environment).values(build_sid=None)
        )
    r = await client.delete(f"/v1/Services/{service}/Functions/{body['sid']}")
    assert r.status_code == 204


async def test_another_account_gets_404(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    service = await make_service(client)
    body = await function(client, service)
    for key in (service, "app"):
        collection = f"/v1/Services/{key}/Functions"
        url = f"{collection}/{body['sid']}"
        assert (await other.get(collection)).status_code == 404
        assert (await other.post(collection, data={"FriendlyName": "x"})).status_code == 404
        assert (await other.get(url)).status_code == 404
        assert (await other.post(url, data={"FriendlyName": "x"})).status_code == 404
        assert (await other.delete(url)).status_code == 404
    # its own service of the same name lists nothing of the first account's
    await make_service(other, "app")
    r = await other.get("/v1/Services/app/Functions")
    assert r.status_code == 200 and r.json()["functions"] == []
    assert (await other.get(f"/v1/Services/app/Functions/{body['sid']}")).status_code == 404
    r = await client.get(f"/v1/Services/{service}/Functions/{body['sid']}")
    assert r.status_code == 200 and r.json()["friendly_name"] == "/hello"
