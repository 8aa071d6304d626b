from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import sqlalchemy as sa
from factories import TIMESTAMP, environment, hold_after_the_check, service

from callbox.api import variables as variables_api
from callbox.store.db import Store
from callbox.store.tables import variables
from callbox.store.variables import read_variables


async def setup(client: httpx.AsyncClient) -> str:
    """A service and an environment; the Variables URL of that environment."""
    svc = await service(client)
    env = await environment(client, svc["sid"], DomainSuffix="dev")
    return f"/v1/Services/{svc['sid']}/Environments/{env['sid']}/Variables"


async def two_environments(client: httpx.AsyncClient) -> tuple[str, str]:
    """A service with environments "one" and "two"; the Variables URL of each."""
    svc = await service(client)
    base = f"/v1/Services/{svc['sid']}/Environments"
    one = await environment(client, svc["sid"], "one", DomainSuffix="one")
    two = await environment(client, svc["sid"], "two", DomainSuffix="two")
    return f"{base}/{one['sid']}/Variables", f"{base}/{two['sid']}/Variables"


async def create(client: httpx.AsyncClient, url: str, key: str, value: str) -> dict:
    r = await client.post(url, data={"Key": key, "Value": value})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_answers_the_wire_format(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    env = await environment(client, svc["sid"], DomainSuffix="dev")
    url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}/Variables"
    body = await create(client, url, "API_KEY", "s3cret")
    assert re.match(r"^ZV[0-9a-f]{32}$", body["sid"])
    assert body["account_sid"] == svc["account_sid"]
    assert body["service_sid"] == svc["sid"]
    assert body["environment_sid"] == env["sid"]
    assert body["key"] == "API_KEY" and body["value"] == "s3cret"
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])
    assert body["url"] == f"http://api.test{url}/{body['sid']}"
    assert "links" not in body


async def test_values_are_stored_sealed(client: httpx.AsyncClient, store: Store) -> None:
    url = await setup(client)
    body = await create(client, url, "TOKEN", "plain-text-secret")
    with store.begin() as conn:
        sealed = conn.execute(
            sa.select(variables.c.value_sealed).where(variables.c.sid == body["sid"])
        ).scalar_one()
    assert "plain-text-secret" not in sealed
    assert store.box.open(sealed) == "plain-text-secret"


async def test_fetch_list_by_service_name(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    body = await create(client, url, "A", "1")
    by_name = re.sub(r"/Services/ZS[0-9a-f]{32}/", "/Services/my-app/", url)
    r = await client.get(f"{by_name}/{body['sid']}")
    assert r.status_code == 200 and r.json() == body
    r = await client.get(by_name)
    assert r.status_code == 200 and r.json()["variables"] == [body]
    assert r.json()["meta"]["key"] == "variables"


async def test_update_key_and_value(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    body = await create(client, url, "A", "1")
    r = await client.post(f"{url}/{body['sid']}", data={"Value": "2"})
    assert r.status_code == 200 and r.json()["key"] == "A" and r.json()["value"] == "2"
    r = await client.post(f"{url}/{body['sid']}", data={"Key": "B"})
    assert r.status_code == 200 and r.json()["key"] == "B" and r.json()["value"] == "2"
    r = await client.post(f"{url}/{body['sid']}", data={"Key": "C", "Value": ""})
    assert r.status_code == 200 and r.json()["key"] == "C" and r.json()["value"] == ""
    r = await client.post(f"{url}/{body['sid']}", data={})
    assert r.status_code == 200 and r.json()["key"] == "C"
    # renaming to its own key is not a conflict
    r = await client.post(f"{url}/{body['sid']}", data={"Key": "C", "Value": "3"})
    assert r.status_code == 200 and r.json()["value"] == "3"
    assert (await client.get(f"{url}/{body['sid']}")).json()["value"] == "3"


async def test_empty_value_is_allowed(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    body = await create(client, url, "EMPTY", "")
    assert body["value"] == ""


async def test_delete(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    body = await create(client, url, "A", "1")
    r = await client.delete(f"{url}/{body['sid']}")
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(f"{url}/{body['sid']}")).status_code == 404
    assert (await client.delete(f"{url}/{body['sid']}")).status_code == 404
    await create(client, url, "A", "again")  # the key is free again


async def test_duplicate_key_is_409(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    await create(client, url, "A", "1")
    other = await create(client, url, "B", "2")
    r = await client.post(url, data={"Key": "A", "Value": "x"})
    assert r.status_code == 409 and r.json()["code"] == 20409
    assert "A" in r.json()["message"]
    r = await client.post(f"{url}/{other['sid']}", data={"Key": "A"})
    assert r.status_code == 409
    # keys are case-sensitive
    await create(client, url, "a", "lower")


async def test_same_key_in_another_environment_is_fine(client: httpx.AsyncClient) -> None:
    one, two = await two_environments(client)
    await create(client, one, "A", "1")
    await create(client, two, "A", "2")


async def test_missing_and_bad_parameters(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    r = await client.post(url, data={"Value": "x"})
    assert r.status_code == 400
    assert r.json()["message"] == "Missing required parameter Key in the post body"
    r = await client.post(url, data={"Key": "", "Value": "x"})
    assert r.status_code == 400 and "Key" in r.json()["message"]
    r = await client.post(url, data={"Key": "A"})
    assert r.status_code == 400
    assert r.json()["message"] == "Missing required parameter Value in the post body"
    for key in ("1ABC", "has space", "has-dash", "dot.ted", "ümlaut", "A=B"):
        r = await client.post(url, data={"Key": key, "Value": "x"})
        assert r.status_code == 400, key
        assert (
            r.json()["code"] == 20001 and "letters, digits and underscores" in (r.json()["message"])
        )
    r = await client.post(url, data={"Key": "K" * 129, "Value": "x"})
    assert r.status_code == 400
    assert r.json()["message"] == ("Parameter Key is too long: at most 128 characters, found 129")
    r = await client.post(url, files={"Value": ("v.txt", b"x", "text/plain")}, data={"Key": "K"})
    assert r.status_code == 400 and "not a file" in r.json()["message"]
    # boundaries: 128 characters, leading underscore
    await create(client, url, "K" * 128, "x")
    await create(client, url, "_private9", "x")


async def test_value_limit_is_450_utf8_bytes(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    await create(client, url, "EXACT", "x" * 450)
    r = await client.post(url, data={"Key": "BIG", "Value": "x" * 512})
    assert r.status_code == 400 and r.json()["code"] == 20001
    assert r.json()["message"].startswith("Variable value is 512 bytes; at most 450")
    # 226 two-byte characters are 452 bytes, though only 226 characters
    r = await client.post(url, data={"Key": "UTF", "Value": "é" * 226})
    assert r.status_code == 400 and "452 bytes" in r.json()["message"]
    await create(client, url, "UTF", "é" * 225)
    existing = await create(client, url, "SMALL", "x")
    r = await client.post(f"{url}/{existing['sid']}", data={"Value": "x" * 451})
    assert r.status_code == 400 and "451 bytes" in r.json()["message"]


async def test_total_limit_is_3072_bytes_of_json(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    values = {f"K{i}": "x" * 440 for i in range(6)}
    for key, value in values.items():
        await create(client, url, key, value)
    size = len(json.dumps(values))
    assert size < 3072
    # one more that would pass the total: refused, saying which limit and by how much
    extra = "y" * 400
    after = len(json.dumps({**values, "MORE": extra}))
    r = await client.post(url, data={"Key": "MORE", "Value": extra})
    assert r.status_code == 400 and r.json()["code"] == 20001
    assert r.json()["message"].startswith(
        f"All variables of this environment would be {after:,} bytes as JSON; at most 3,072"
    )
    # what fits exactly is accepted: 3072 - size - len(', "F": ""') characters
    room = 3072 - size - len(', "F": ""')
    await create(client, url, "F", "z" * room)
    # updates are measured the same way: growing a value past the total is refused ...
    listed = (await client.get(url)).json()["variables"]
    first = next(v for v in listed if v["key"] == "K0")
    r = await client.post(f"{url}/{first['sid']}", data={"Value": "x" * 441})
    assert r.status_code == 400 and "All variables" in r.json()["message"]
    # ... shrinking one is fine, and renaming to a longer key counts the key too
    r = await client.post(f"{url}/{first['sid']}", data={"Value": "x" * 430})
    assert r.status_code == 200
    r = await client.post(f"{url}/{first['sid']}", data={"Key": "K0" + "_" * 20})
    assert r.status_code == 400 and "All variables" in r.json()["message"]


async def test_concurrent_creates_respect_the_total(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: the total was checked outside the write lock; two creates stored more.
    url = await setup(client)
    for i in range(6):  # 2,700 bytes as JSON: room for one more 300-byte value, not two
        await create(client, url, f"K{i}", "v" * 440)
    hold_after_the_check(monkeypatch, variables_api)
    answers = await asyncio.gather(
        client.post(url, data={"Key": "A", "Value": "a" * 300}),
        client.post(url, data={"Key": "B", "Value": "b" * 300}),
    )
    assert sorted(r.status_code for r in answers) == [201, 400], [r.text for r in answers]
    listed = (await client.get(url)).json()["variables"]
    total = len(json.dumps({v["key"]: v["value"] for v in listed}).encode())
    assert len(listed) == 7 and total <= variables_api.MAX_TOTAL_BYTES == 3072


async def test_pagination_past_fifty(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    made = [(await create(client, url, f"V{i}", str(i)))["sid"] for i in range(53)]
    r = await client.get(url)
    body = r.json()
    assert body["meta"]["page_size"] == 50 and len(body["variables"]) == 50
    assert body["meta"]["next_page_url"].startswith(f"http://api.test{url}?")
    seen = [v["sid"] for v in body["variables"]]
    r = await client.get(body["meta"]["next_page_url"])
    body = r.json()
    assert r.status_code == 200 and len(body["variables"]) == 3
    assert body["meta"]["next_page_url"] is None
    assert seen + [v["sid"] for v in body["variables"]] == made
    assert [v["value"] for v in body["variables"]] == ["50", "51", "52"]


async def test_every_write_announces_the_environment(
    watched: httpx.AsyncClient, changes: list[str]
) -> None:
    url = await setup(watched)
    env_sid = url.split("/")[5]
    changes.clear()
    body = await create(watched, url, "A", "1")
    assert changes == [env_sid]
    await watched.post(f"{url}/{body['sid']}", data={"Value": "2"})
    assert changes == [env_sid] * 2
    await watched.delete(f"{url}/{body['sid']}")
    assert changes == [env_sid] * 3
    # reads and refused writes announce nothing
    await watched.get(url)
    await watched.post(url, data={"Key": "1bad", "Value": "x"})
    assert changes == [env_sid] * 3


async def test_environment_variables_for_the_serving_side(
    client: httpx.AsyncClient, store: Store
) -> None:
    one, two = await two_environments(client)
    await create(client, one, "B", "2")
    await create(client, one, "A", "é ünïcode")
    await create(client, two, "C", "3")
    one_sid, two_sid = one.split("/")[5], two.split("/")[5]
    with store.begin() as conn:
        assert read_variables(conn, store.box, one_sid) == {"A": "é ünïcode", "B": "2"}
        assert read_variables(conn, store.box, two_sid) == {"C": "3"}
        assert read_variables(conn, store.box, "ZE" + "0" * 32) == {}


async def test_variables_of_another_environment_or_service_are_404(
    client: httpx.AsyncClient,
) -> None:
    one, two = await service(client, "one"), await service(client, "two")
    env1 = await environment(client, one["sid"], "a", DomainSuffix="a")
    env2 = await environment(client, one["sid"], "b", DomainSuffix="b")
    env3 = await environment(client, two["sid"], "c", DomainSuffix="c")
    var = await create(
        client, f"/v1/Services/{one['sid']}/Environments/{env1['sid']}/Variables", "A", "1"
    )
    for svc, env in ((one, env2), (two, env3), (two, env1)):
        url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}/Variables/{var['sid']}"
        assert (await client.get(url)).status_code == 404, url
        assert (await client.post(url, data={"Value": "x"})).status_code == 404, url
        assert (await client.delete(url)).status_code == 404, url
    # an environment of one service under another service's URL is unknown too
    url = f"/v1/Services/{two['sid']}/Environments/{env1['sid']}/Variables"
    assert (await client.get(url)).status_code == 404
    assert (await client.post(url, data={"Key": "A", "Value": "1"})).status_code == 404


async def test_malformed_or_unknown_sids_are_404(client: httpx.AsyncClient) -> None:
    url = await setup(client)
    for sid in ("ZV" + "0" * 32, "nope", "ZE" + "0" * 32):
        for method in ("GET", "DELETE"):
            r = await client.request(method, f"{url}/{sid}")
            assert r.status_code == 404 and r.json()["code"] == 20404, (method, sid)
        r = await client.post(f"{url}/{sid}", data={"Value": "x"})
        assert r.status_code == 404
    svc_part = url.rsplit("/Environments/", 1)[0]
    for env in ("ZE" + "0" * 32, "ZEbad", "production"):
        r = await client.get(f"{svc_part}/Environments/{env}/Variables")
        assert r.status_code == 404, env
    assert (await client.get("/v1/Services/nope/Environments/ZE1/Variables")).status_code == 404


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    url = await setup(client)
    var = await create(client, url, "A", "1")
    by_name = re.sub(r"/Services/ZS[0-9a-f]{32}/", "/Services/my-app/", url)
    for base in (url, by_name):
        assert (await other.get(base)).status_code == 404
        assert (await other.post(base, data={"Key": "B", "Value": "2"})).status_code == 404
        assert (await other.get(f"{base}/{var['sid']}")).status_code == 404
        assert (await other.post(f"{base}/{var['sid']}", data={"Value": "x"})).status_code == 404
        assert (await other.delete(f"{base}/{var['sid']}")).status_code == 404
    assert (await client.get(f"{url}/{var['sid']}")).json()["value"] == "1"
