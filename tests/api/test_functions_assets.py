from __future__ import annotations

import hashlib
import re
from functools import partial

import httpx
import pytest
import sqlalchemy as sa
from factories import TIMESTAMP, asset, deployed, service
from factories import upload as upload_version

from callbox import rules
from callbox.api import versions as module
from callbox.store.db import Store
from callbox.store.tables import environments, versions

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # not UTF-8, which assets need not be

# Asset versions are a PNG unless a test says otherwise.
upload = partial(
    upload_version, path="/logo.png", content=PNG, content_type="image/png", filename="logo.png"
)


async def make_asset(client: httpx.AsyncClient) -> tuple[str, dict]:
    """Service "app" with asset /logo.png: the service's SID and the asset."""
    service_sid = (await service(client, "app"))["sid"]
    return service_sid, await asset(client, service_sid)


async def test_create_answers_the_wire_format(client: httpx.AsyncClient) -> None:
    service, body = await make_asset(client)
    assert re.match(r"^ZH[0-9a-f]{32}$", body["sid"])
    url = f"http://api.test/v1/Services/{service}/Assets/{body['sid']}"
    assert body == {
        "sid": body["sid"],
        "account_sid": body["account_sid"],
        "service_sid": service,
        "friendly_name": "/logo.png",
        "date_created": body["date_created"],
        "date_updated": body["date_updated"],
        "url": url,
        "links": {"asset_versions": f"{url}/Versions"},
    }
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])


async def test_fetch_update_list_delete(client: httpx.AsyncClient) -> None:
    service, body = await make_asset(client)
    url = f"/v1/Services/app/Assets/{body['sid']}"
    assert (await client.get(url)).json() == body
    r = await client.post(url, data={"FriendlyName": "/logo-2.png"})
    assert r.status_code == 200 and r.json()["friendly_name"] == "/logo-2.png"
    await client.post(f"/v1/Services/{service}/Functions", data={"FriendlyName": "f"})
    r = await client.get(f"/v1/Services/{service}/Assets")
    assert r.status_code == 200 and r.json()["meta"]["key"] == "assets"
    assert [a["sid"] for a in r.json()["assets"]] == [body["sid"]]
    r = await client.delete(url)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(url)).status_code == 404
    assert (await client.get(f"/v1/Services/{service}/Assets")).json()["assets"] == []


async def test_friendly_name_rules(client: httpx.AsyncClient) -> None:
    service, body = await make_asset(client)
    for url in (f"/v1/Services/{service}/Assets", f"/v1/Services/{service}/Assets/{body['sid']}"):
        for data in ({}, {"FriendlyName": ""}, {"FriendlyName": "z" * 256}):
            r = await client.post(url, data=data)
            assert r.status_code == 400 and r.json()["code"] == 20001, (url, data)
            assert "FriendlyName" in r.json()["message"]


async def test_version_wire_format_has_no_links(client: httpx.AsyncClient, store: Store) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    r = await upload(client, base, path="img/logo.png", visibility="PRIVATE")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {
        "sid": body["sid"],
        "account_sid": asset["account_sid"],
        "service_sid": service,
        "asset_sid": asset["sid"],
        "path": "/img/logo.png",
        "visibility": "private",
        "content_sha256": hashlib.sha256(PNG).hexdigest(),  # beyond Twilio
        "date_created": body["date_created"],
        "url": f"http://api.test{base}/{body['sid']}",
    }
    assert (await client.get(f"{base}/{body['sid']}")).json() == body
    with store.begin() as conn:
        row = conn.execute(sa.select(versions).where(versions.c.sid == body["sid"])).one()
    assert row.kind == "asset" and row.size == len(PNG) and row.content_type == "image/png"
    assert store.blobs.get(row.content_sha256) == PNG
    r = await client.get(base)
    assert r.json()["meta"]["key"] == "asset_versions"
    assert r.json()["asset_versions"] == [body]


async def test_no_content_endpoint(client: httpx.AsyncClient) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    sid = (await upload(client, base)).json()["sid"]
    r = await client.get(f"{base}/{sid}/Content")
    assert r.status_code == 404 and r.json()["code"] == 20404
    # an asset version is not reachable as a function version either
    r = await client.get(f"/v1/Services/{service}/Functions/{asset['sid']}/Versions/{sid}/Content")
    assert r.status_code == 404


async def test_content_type_guessed_from_the_path(client: httpx.AsyncClient, store: Store) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    for path, expected in (
        ("/site.css", "text/css"),
        ("/data.json", "application/json"),
        ("/blob.unknownext", "application/octet-stream"),
    ):
        r = await upload(client, base, path=path, content=b"{}", content_type="")
        assert r.status_code == 201, r.text
        with store.begin() as conn:
            row = conn.execute(sa.select(versions).where(versions.c.sid == r.json()["sid"])).one()
        assert row.content_type == expected, path


async def test_size_limits_depend_on_visibility(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "MAX_ASSET_BYTES", 25)
    monkeypatch.setattr(rules, "MAX_PRIVATE_ASSET_BYTES", 10)
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    for visibility, limit in (("public", 25), ("protected", 25), ("private", 10)):
        r = await upload(client, base, visibility=visibility, content=b"x" * limit)
        assert r.status_code == 201, visibility
        r = await upload(client, base, visibility=visibility, content=b"x" * (limit + 1))
        assert r.status_code == 413 and r.json()["code"] == 82007, visibility
        assert f"at most {limit} bytes" in r.json()["message"]
        assert f"this one is {limit + 1} bytes" in r.json()["message"]


async def test_real_limits_are_the_documented_ones() -> None:
    assert rules.MAX_ASSET_BYTES == 25 * 1024 * 1024
    assert rules.MAX_PRIVATE_ASSET_BYTES == 10 * 1024 * 1024
    with pytest.raises(Exception, match=r"A private asset may be at most 10 MB"):
        module._check_size(module.ASSET, "private", 10 * 1024 * 1024 + 1)
    module._check_size(module.ASSET, "protected", 25 * 1024 * 1024)


async def test_upload_validation_applies_to_assets(client: httpx.AsyncClient) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    assert (await upload(client, base, path="/a b.png")).status_code == 400
    assert (await upload(client, base, path="/../x.png")).status_code == 400
    assert (await upload(client, base, visibility="hidden")).status_code == 400
    r = await client.post(base, data={"Path": "/x", "Visibility": "public", "Content": "text"})
    assert r.status_code == 400 and "file" in r.json()["message"]
    r = await client.post(base, data={"Path": "/x", "Visibility": "public"})
    assert r.status_code == 400 and "Content" in r.json()["message"]


async def test_delete_refused_while_deployed(client: httpx.AsyncClient, store: Store) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    version = (await upload(client, base)).json()["sid"]
    svc = {"sid": service, "account_sid": asset["account_sid"]}
    _build, environment = deployed(store, svc, [version])
    url = f"/v1/Services/{service}/Assets/{asset['sid']}"
    r = await client.delete(url)
    assert r.status_code == 409
    assert r.json()["message"] == (
        f"Asset {asset['sid']} is part of the build deployed in environment {environment}; "
        "deploy a build without it first."
    )
    with store.begin() as conn:
        conn.execute(environments.delete().where(environments.c.sid == environment))
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(f"{base}/{version}")).status_code == 404


async def test_another_account_gets_404(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    service, asset = await make_asset(client)
    base = f"/v1/Services/{service}/Assets/{asset['sid']}/Versions"
    sid = (await upload(client, base)).json()["sid"]
    collection = f"/v1/Services/{service}/Assets"
    url = f"{collection}/{asset['sid']}"
    assert (await other.get(collection)).status_code == 404
    assert (await other.post(collection, data={"FriendlyName": "x"})).status_code == 404
    assert (await other.get(url)).status_code == 404
    assert (await other.post(url, data={"FriendlyName": "x"})).status_code == 404
    assert (await other.delete(url)).status_code == 404
    assert (await other.get(base)).status_code == 404
    assert (await other.get(f"{base}/{sid}")).status_code == 404
    assert (await upload(other, base)).status_code == 404
    assert (await client.get(url)).status_code == 200
