from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa
from factories import TIMESTAMP, build, connect, environment, service, walk

from callbox.api.app import Api
from callbox.store.accounts import Accounts
from callbox.store.db import Store, utcnow
from callbox.store.tables import builds, deployments, environments, logs, variables

MISSING_ENV = "ZE" + "0" * 32


async def test_create_answers_the_wire_format(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    body = await environment(client, svc["sid"], "dev-environment", DomainSuffix="dev")
    assert re.match(r"^ZE[0-9a-f]{32}$", body["sid"])
    assert body["account_sid"] == svc["account_sid"]
    assert body["service_sid"] == svc["sid"]
    assert body["build_sid"] is None
    assert body["unique_name"] == "dev-environment"
    assert body["domain_suffix"] == "dev"
    assert body["domain_name"] == f"{svc['domain_base']}-dev.localhost"
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])
    url = f"http://api.test/v1/Services/{svc['sid']}/Environments/{body['sid']}"
    assert body["url"] == url
    assert body["links"] == {
        "variables": f"{url}/Variables",
        "deployments": f"{url}/Deployments",
        "logs": f"{url}/Logs",
    }


async def test_no_suffix_is_null_and_the_bare_domain(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    body = await environment(client, svc["sid"], "production")
    assert body["domain_suffix"] is None
    assert body["domain_name"] == f"{svc['domain_base']}.localhost"
    # an empty DomainSuffix means the same as none
    r = await client.post(
        f"/v1/Services/{svc['sid']}/Environments",
        data={"UniqueName": "other", "DomainSuffix": ""},
    )
    assert r.status_code == 409


async def test_domain_uses_the_configured_base_domain(
    api: Api, store: Store, accounts: Accounts, owner: tuple[str, str]
) -> None:
    from callbox.config import Config

    custom = Api(
        config=Config.load({}, base_domain="fn.example.com"), store=store, accounts=accounts
    )
    async with connect(custom, owner) as c:
        svc = await service(c)
        body = await environment(c, svc["sid"], "stage-environment", DomainSuffix="stage")
    assert body["domain_name"] == f"{svc['domain_base']}-stage.fn.example.com"


async def test_friendly_name_and_unknown_parameters_are_ignored(
    client: httpx.AsyncClient,
) -> None:
    svc = await service(client)
    body = await environment(
        client, svc["sid"], "x-environment", DomainSuffix="x", FriendlyName="X", Whatever="1"
    )
    assert "friendly_name" not in body and body["unique_name"] == "x-environment"


async def test_fetch_by_service_sid_or_unique_name(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    body = await environment(client, svc["sid"])
    for key in (svc["sid"], "my-app"):
        r = await client.get(f"/v1/Services/{key}/Environments/{body['sid']}")
        assert r.status_code == 200 and r.json() == body


async def test_list_and_pagination(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    made = [
        (await environment(client, svc["sid"], f"env-{i}", DomainSuffix=f"s{i}"))["sid"]
        for i in range(5)
    ]
    seen, _ = await walk(
        client,
        "/v1/Services/my-app/Environments",
        key="environments",
        prefix=f"http://api.test/v1/Services/{svc['sid']}/Environments?",
        PageSize=2,
    )
    assert [e["sid"] for e in seen] == made


async def test_list_shows_only_this_services_environments(client: httpx.AsyncClient) -> None:
    one, two = await service(client, "one"), await service(client, "two")
    mine = await environment(client, one["sid"])
    await environment(client, two["sid"])
    r = await client.get(f"/v1/Services/{one['sid']}/Environments")
    assert [e["sid"] for e in r.json()["environments"]] == [mine["sid"]]


async def test_duplicates_in_a_service_are_409(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    await environment(client, svc["sid"], "dev-environment", DomainSuffix="dev")
    await environment(client, svc["sid"], "production")
    for data in (
        {"UniqueName": "dev-environment", "DomainSuffix": "other"},  # same name
        {"UniqueName": "another", "DomainSuffix": "dev"},  # same suffix
        {"UniqueName": "another"},  # two environments without suffix
    ):
        r = await client.post(f"/v1/Services/{svc['sid']}/Environments", data=data)
        assert r.status_code == 409, data
        assert r.json()["code"] == 20409
        assert r.json()["message"] == (
            "Environment with this UniqueName or DomainSuffix already exists."
        )


async def test_same_names_in_another_service_are_fine(client: httpx.AsyncClient) -> None:
    one, two = await service(client, "one"), await service(client, "two")
    await environment(client, one["sid"], "dev-environment", DomainSuffix="dev")
    body = await environment(client, two["sid"], "dev-environment", DomainSuffix="dev")
    assert body["domain_name"] == f"{two['domain_base']}-dev.localhost"


async def test_a_domain_taken_by_another_service_is_409(client: httpx.AsyncClient) -> None:
    # service "a" (domain a-NNNN) with suffix "5678" meets service "a-NNNN"'s bare domain
    a = await service(client, "a")
    clashing = await service(client, a["domain_base"])
    await environment(client, clashing["sid"], "production")  # <a-NNNN>-MMMM.localhost
    suffix = clashing["domain_base"].rsplit("-", 1)[1]
    r = await client.post(
        f"/v1/Services/{a['sid']}/Environments",
        data={"UniqueName": "digits", "DomainSuffix": suffix},
    )
    assert r.status_code == 409 and "DomainSuffix" in r.json()["message"]


async def test_bad_input_is_400(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    url = f"/v1/Services/{svc['sid']}/Environments"
    r = await client.post(url, data={})
    assert r.status_code == 400
    assert r.json()["message"] == "Missing required parameter UniqueName in the post body"
    r = await client.post(url, data={"UniqueName": ""})
    assert r.status_code == 400 and "UniqueName" in r.json()["message"]
    r = await client.post(url, data={"UniqueName": "a" * 101})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Parameter UniqueName is too long: at most 100 characters, found 101"
    )
    for suffix in ("a" * 17, "Dev", "-dev", "dev-", "d_v", "d.v", "d v", "dév"):
        r = await client.post(url, data={"UniqueName": "n", "DomainSuffix": suffix})
        assert r.status_code == 400, suffix
        assert r.json()["code"] == 20001
        assert "DomainSuffix" in r.json()["message"] and "lowercase" in r.json()["message"]
    r = await client.post(url, files={"UniqueName": ("f.txt", b"x", "text/plain")})
    assert r.status_code == 400 and "not a file" in r.json()["message"]
    # the boundary values are accepted
    await environment(client, svc["sid"], "a" * 100, DomainSuffix="a" * 16)
    await environment(client, svc["sid"], "b", DomainSuffix="a-1-b")


async def test_bad_page_parameters(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    for params in ({"PageSize": "0"}, {"PageSize": "x"}, {"PageToken": "nope"}):
        r = await client.get(f"/v1/Services/{svc['sid']}/Environments", params=params)
        assert r.status_code == 400, params


async def test_unknown_service_or_environment_is_404(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    assert (await client.get("/v1/Services/nope/Environments")).status_code == 404
    r = await client.post("/v1/Services/nope/Environments", data={"UniqueName": "x"})
    assert r.status_code == 404
    for sid in (MISSING_ENV, "not-a-sid", "ZS" + "0" * 32, "ZE123"):
        r = await client.get(f"/v1/Services/{svc['sid']}/Environments/{sid}")
        assert r.status_code == 404, sid
        assert r.json()["code"] == 20404
        r = await client.delete(f"/v1/Services/{svc['sid']}/Environments/{sid}")
        assert r.status_code == 404, sid


async def test_an_environment_of_another_service_is_404(client: httpx.AsyncClient) -> None:
    one, two = await service(client, "one"), await service(client, "two")
    env = await environment(client, one["sid"])
    r = await client.get(f"/v1/Services/{two['sid']}/Environments/{env['sid']}")
    assert r.status_code == 404
    r = await client.delete(f"/v1/Services/{two['sid']}/Environments/{env['sid']}")
    assert r.status_code == 404


async def test_delete_removes_everything_and_announces_it(
    watched: httpx.AsyncClient, store: Store, changes: list[str]
) -> None:
    svc = await service(watched)
    env = await environment(watched, svc["sid"], DomainSuffix="dev")
    keep = await environment(watched, svc["sid"], "production")
    base = f"/v1/Services/{svc['sid']}/Environments"
    for target in (env, keep):
        r = await watched.post(
            f"{base}/{target['sid']}/Variables", data={"Key": "API_KEY", "Value": "v"}
        )
        assert r.status_code == 201
    build_sid = build(store, svc)
    with store.begin() as conn:
        conn.execute(
            logs.insert().values(
                sid="NO" + "1" * 32,
                account_sid=svc["account_sid"],
                service_sid=svc["sid"],
                environment_sid=env["sid"],
                level="INFO",
                message="hello",
                date_created=utcnow(),
            )
        )
    r = await watched.post(f"{base}/{env['sid']}/Deployments", data={"BuildSid": build_sid})
    assert r.status_code == 201
    changes.clear()

    r = await watched.delete(f"{base}/{env['sid']}")
    assert r.status_code == 204 and r.content == b""
    assert changes == [env["sid"]]
    assert (await watched.get(f"{base}/{env['sid']}")).status_code == 404
    assert (await watched.get(f"{base}/{env['sid']}/Variables")).status_code == 404
    with store.begin() as conn:
        for table in (variables, deployments, logs):
            left = conn.execute(
                sa.select(sa.func.count()).where(table.c.environment_sid == env["sid"])
            ).scalar_one()
            assert left == 0, table.name
        # the other environment and the build are untouched
        assert conn.execute(
            sa.select(environments.c.sid).where(environments.c.sid == keep["sid"])
        ).first()
        kept = conn.execute(
            sa.select(sa.func.count()).where(variables.c.environment_sid == keep["sid"])
        ).scalar_one()
        assert kept == 1
        assert conn.execute(sa.select(builds.c.sid).where(builds.c.sid == build_sid)).first()
    # the name and the suffix are free again
    await environment(watched, svc["sid"], DomainSuffix="dev")


async def test_deleting_the_service_deletes_its_environments(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    env = await environment(client, svc["sid"])
    assert (await client.delete(f"/v1/Services/{svc['sid']}")).status_code == 204
    svc2 = await service(client)
    r = await client.get(f"/v1/Services/{svc2['sid']}/Environments/{env['sid']}")
    assert r.status_code == 404


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    svc = await service(client)
    env = await environment(client, svc["sid"])
    for key in (svc["sid"], "my-app"):
        base = f"/v1/Services/{key}/Environments"
        assert (await other.get(base)).status_code == 404
        assert (await other.post(base, data={"UniqueName": "mine"})).status_code == 404
        assert (await other.get(f"{base}/{env['sid']}")).status_code == 404
        assert (await other.delete(f"{base}/{env['sid']}")).status_code == 404
    # the other account's own service of the same name cannot reach it either
    theirs = await service(other)
    base = f"/v1/Services/{theirs['sid']}/Environments"
    assert (await other.get(f"{base}/{env['sid']}")).status_code == 404
    assert (await other.delete(f"{base}/{env['sid']}")).status_code == 404
    assert (await other.get(base)).json()["environments"] == []
    # still there for its owner
    assert (await client.get(f"/v1/Services/{svc['sid']}/Environments/{env['sid']}")).is_success


async def test_methods_not_offered_are_405(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    env = await environment(client, svc["sid"])
    r = await client.post(
        f"/v1/Services/{svc['sid']}/Environments/{env['sid']}", data={"UniqueName": "x"}
    )
    assert r.status_code == 405
    assert (await client.delete(f"/v1/Services/{svc['sid']}/Environments")).status_code == 405


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH", "CONNECT", "PROPFIND"])
async def test_any_other_method_is_405_with_allow(client: httpx.AsyncClient, method: str) -> None:
    # From issue 13: TRACE answered 404.
    svc = await service(client)
    r = await client.request(method, f"/v1/Services/{svc['sid']}/Environments")
    assert r.status_code == 405, r.text
    assert r.json()["code"] == 20405
    assert r.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["/health", "/ready", "/v1/openapi.json"])
async def test_other_methods_on_public_paths_are_405(client: httpx.AsyncClient, path: str) -> None:
    r = await client.request("TRACE", path)
    assert r.status_code == 405 and r.json()["code"] == 20405
    assert "GET" in r.headers["allow"]
