from __future__ import annotations

import asyncio
import re
import threading

import httpx
import pytest
import sqlalchemy as sa
from factories import TIMESTAMP, build, environment, resource_of, service, version

from callbox.api import deployments as deployments_api
from callbox.store.db import Store
from callbox.store.tables import deployments, environments


async def setup(client: httpx.AsyncClient) -> tuple[dict, dict, str]:
    svc = await service(client)
    env = await environment(client, svc["sid"], DomainSuffix="dev")
    return svc, env, f"/v1/Services/{svc['sid']}/Environments/{env['sid']}/Deployments"


async def deploy(client: httpx.AsyncClient, url: str, build_sid: str, **extra: str) -> dict:
    r = await client.post(url, data={"BuildSid": build_sid, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_answers_the_wire_format(client: httpx.AsyncClient, store: Store) -> None:
    svc, env, url = await setup(client)
    build_sid = build(store, svc)
    body = await deploy(client, url, build_sid)
    assert re.match(r"^ZD[0-9a-f]{32}$", body["sid"])
    assert body["account_sid"] == svc["account_sid"]
    assert body["service_sid"] == svc["sid"]
    assert body["environment_sid"] == env["sid"]
    assert body["build_sid"] == build_sid
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])
    assert body["url"] == f"http://api.test{url}/{body['sid']}"
    assert set(body) == {
        "sid",
        "account_sid",
        "service_sid",
        "environment_sid",
        "build_sid",
        "date_created",
        "date_updated",
        "url",
    }


async def test_the_environment_shows_the_deployed_build(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc, env, url = await setup(client)
    first, second = build(store, svc), build(store, svc)
    env_url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}"
    assert (await client.get(env_url)).json()["build_sid"] is None
    await deploy(client, url, first)
    assert (await client.get(env_url)).json()["build_sid"] == first
    latest = await deploy(client, url, second)
    assert (await client.get(env_url)).json()["build_sid"] == second
    with store.begin() as conn:
        row = conn.execute(sa.select(environments).where(environments.c.sid == env["sid"])).one()
    assert row.deployment_sid == latest["sid"]
    # redeploying an earlier build (a rollback) is just another deployment
    await deploy(client, url, first)
    assert (await client.get(env_url)).json()["build_sid"] == first


async def test_a_deployment_announces_the_environment(
    watched: httpx.AsyncClient, store: Store, changes: list[str]
) -> None:
    svc, env, url = await setup(watched)
    build_sid = build(store, svc)
    changes.clear()
    await deploy(watched, url, build_sid)
    assert changes == [env["sid"]]
    r = await watched.post(url, data={"BuildSid": build(store, svc, "building")})
    assert r.status_code == 409
    assert changes == [env["sid"]]  # a refused deployment changes nothing


async def test_fetch_and_list(client: httpx.AsyncClient, store: Store) -> None:
    svc, env, url = await setup(client)
    made = [await deploy(client, url, build(store, svc)) for _ in range(3)]
    r = await client.get(f"{url}/{made[1]['sid']}")
    assert r.status_code == 200 and r.json() == made[1]
    by_name = url.replace(svc["sid"], "my-app")
    r = await client.get(by_name, params={"PageSize": 2})
    body = r.json()
    assert r.status_code == 200 and body["meta"]["key"] == "deployments"
    assert body["deployments"] == made[:2]
    assert body["meta"]["next_page_url"].startswith(f"http://api.test{url}?")
    r = await client.get(body["meta"]["next_page_url"])
    assert r.json()["deployments"] == made[2:] and r.json()["meta"]["next_page_url"] is None


async def test_list_shows_only_this_environments_deployments(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc, env, url = await setup(client)
    other_env = await environment(client, svc["sid"], "production")
    build_sid = build(store, svc)
    mine = await deploy(client, url, build_sid)
    other_url = f"/v1/Services/{svc['sid']}/Environments/{other_env['sid']}/Deployments"
    theirs = await deploy(client, other_url, build_sid)  # one build may serve many environments
    assert (await client.get(url)).json()["deployments"] == [mine]
    assert (await client.get(other_url)).json()["deployments"] == [theirs]
    assert (await client.get(f"{url}/{theirs['sid']}")).status_code == 404


async def test_build_sid_is_required_and_checked(client: httpx.AsyncClient) -> None:
    _, _, url = await setup(client)
    r = await client.post(url, data={})
    assert r.status_code == 400 and r.json()["code"] == 20001
    assert r.json()["message"] == "Missing required parameter BuildSid in the post body"
    r = await client.post(url, data={"BuildSid": ""})
    assert r.status_code == 400 and "BuildSid" in r.json()["message"]
    for bad in ("nope", "ZE" + "0" * 32, "ZB123"):
        r = await client.post(url, data={"BuildSid": bad})
        assert r.status_code == 400, bad
        assert "Build SID" in r.json()["message"] and bad in r.json()["message"]
    r = await client.post(url, files={"BuildSid": ("b.txt", b"x", "text/plain")})
    assert r.status_code == 400 and "not a file" in r.json()["message"]


async def test_unknown_build_or_one_of_another_service_is_400(
    client: httpx.AsyncClient, store: Store
) -> None:
    _, _, url = await setup(client)
    missing = "ZB" + "0" * 32
    r = await client.post(url, data={"BuildSid": missing})
    assert r.status_code == 400
    assert r.json()["message"] == f"Build {missing} was not found in this service"
    elsewhere = await service(client, "elsewhere")
    foreign = build(store, elsewhere)
    r = await client.post(url, data={"BuildSid": foreign})
    assert r.status_code == 400
    assert r.json()["message"] == f"Build {foreign} was not found in this service"


async def test_build_of_another_account_is_400(
    client: httpx.AsyncClient, other: httpx.AsyncClient, store: Store
) -> None:
    _, _, url = await setup(client)
    theirs = build(store, await service(other, "theirs"))
    r = await client.post(url, data={"BuildSid": theirs})
    assert r.status_code == 400 and "was not found" in r.json()["message"]


async def test_builds_that_are_not_completed(client: httpx.AsyncClient, store: Store) -> None:
    svc, env, url = await setup(client)
    building = build(store, svc, "building")
    r = await client.post(url, data={"BuildSid": building})
    assert r.status_code == 409 and r.json()["code"] == 20409
    assert r.json()["message"] == (f"Build {building} is still building; wait for status completed")
    failed = build(store, svc, "failed")
    r = await client.post(url, data={"BuildSid": failed})
    assert r.status_code == 400 and r.json()["code"] == 20001
    assert r.json()["message"] == f"Build {failed} failed and cannot be deployed"
    # nothing was recorded and the environment still serves nothing
    assert (await client.get(url)).json()["deployments"] == []
    env_url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}"
    assert (await client.get(env_url)).json()["build_sid"] is None
    with store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(deployments)).scalar_one() == 0


async def test_a_build_missing_a_deleted_function_is_not_deployed(
    client: httpx.AsyncClient, store: Store
) -> None:
    # From the review: it deployed (201) and served without that route, or not at all on a
    # node that had to write the build's files again.
    svc, env, url = await setup(client)
    kept, gone = version(store, svc, path="/a"), version(store, svc, path="/b")
    build_sid = build(store, svc, version_sids=[kept, gone])
    r = await client.delete(f"/v1/Services/{svc['sid']}/Functions/{resource_of(store, gone)}")
    assert r.status_code == 204
    r = await client.post(url, data={"BuildSid": build_sid})
    assert r.status_code == 409 and r.json()["code"] == 20409
    assert r.json()["message"] == (
        f"Build {build_sid} includes a function or asset that was deleted since "
        f"(version {gone}); create a new build."
    )
    env_url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}"
    assert (await client.get(env_url)).json()["build_sid"] is None


async def test_deleting_a_build_while_it_is_deployed_leaves_no_dangling_environment(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: DELETE Build and POST Deployment both succeeded when they overlapped;
    # the environment then pointed at a deleted build and every request to it answered 500.
    svc, env, url = await setup(client)
    build_sid = build(store, svc)
    checked, deleted = threading.Event(), threading.Event()

    def held(prefix: str) -> str:  # after the deployment's checks, before its writes
        checked.set()
        deleted.wait(0.5)  # the delete waits for the write lock instead: it cannot come first
        return new_sid(prefix)

    new_sid = deployments_api.new_sid
    monkeypatch.setattr(deployments_api, "new_sid", held)
    deploying = asyncio.create_task(client.post(url, data={"BuildSid": build_sid}))
    async with asyncio.timeout(5):
        while not checked.is_set():
            await asyncio.sleep(0.01)
    removed = await client.delete(f"/v1/Services/{svc['sid']}/Builds/{build_sid}")
    deleted.set()
    deployed = await deploying
    assert (deployed.status_code, removed.status_code) == (201, 409), (deployed.text, removed.text)
    env_url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}"
    served = (await client.get(env_url)).json()["build_sid"]
    assert served == build_sid
    fetched = await client.get(f"/v1/Services/{svc['sid']}/Builds/{served}")
    assert fetched.status_code == 200, "the environment serves a build that was deleted"


async def test_is_plugin_is_accepted_and_ignored(client: httpx.AsyncClient, store: Store) -> None:
    svc, _, url = await setup(client)
    body = await deploy(client, url, build(store, svc), IsPlugin="true")
    assert "is_plugin" not in body
    await deploy(client, url, build(store, svc), IsPlugin="false")
    r = await client.post(url, data={"BuildSid": build(store, svc), "IsPlugin": "maybe"})
    assert r.status_code == 400 and "IsPlugin" in r.json()["message"]


async def test_unknown_parents_and_malformed_sids_are_404(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc, env, url = await setup(client)
    build_sid = build(store, svc)
    base = f"/v1/Services/{svc['sid']}/Environments"
    for env_key in ("ZE" + "0" * 32, "ZEnope", "dev-environment"):
        r = await client.get(f"{base}/{env_key}/Deployments")
        assert r.status_code == 404, env_key
        r = await client.post(f"{base}/{env_key}/Deployments", data={"BuildSid": build_sid})
        assert r.status_code == 404, env_key
    r = await client.get(f"/v1/Services/nope/Environments/{env['sid']}/Deployments")
    assert r.status_code == 404
    for sid in ("ZD" + "0" * 32, "ZDnope", "ZB" + "0" * 32):
        r = await client.get(f"{url}/{sid}")
        assert r.status_code == 404 and r.json()["code"] == 20404, sid


async def test_an_environment_under_another_service_is_404(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc, env, url = await setup(client)
    done = await deploy(client, url, build(store, svc))
    two = await service(client, "two")
    wrong = f"/v1/Services/{two['sid']}/Environments/{env['sid']}/Deployments"
    assert (await client.get(wrong)).status_code == 404
    assert (await client.get(f"{wrong}/{done['sid']}")).status_code == 404
    r = await client.post(wrong, data={"BuildSid": build(store, two)})
    assert r.status_code == 404


async def test_no_update_or_delete(client: httpx.AsyncClient, store: Store) -> None:
    svc, _, url = await setup(client)
    done = await deploy(client, url, build(store, svc))
    assert (await client.delete(f"{url}/{done['sid']}")).status_code == 405
    r = await client.post(f"{url}/{done['sid']}", data={"BuildSid": done["build_sid"]})
    assert r.status_code == 405


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, other: httpx.AsyncClient, store: Store
) -> None:
    svc, env, url = await setup(client)
    build_sid = build(store, svc)
    done = await deploy(client, url, build_sid)
    by_name = url.replace(svc["sid"], "my-app")
    for base in (url, by_name):
        assert (await other.get(base)).status_code == 404
        assert (await other.post(base, data={"BuildSid": build_sid})).status_code == 404
        assert (await other.get(f"{base}/{done['sid']}")).status_code == 404
    # the other account's own service and build cannot reach the owner's environment
    theirs = await service(other)
    wrong = f"/v1/Services/{theirs['sid']}/Environments/{env['sid']}/Deployments"
    r = await other.post(wrong, data={"BuildSid": build(store, theirs)})
    assert r.status_code == 404
    env_url = f"/v1/Services/{svc['sid']}/Environments/{env['sid']}"
    assert (await client.get(env_url)).json()["build_sid"] == build_sid
