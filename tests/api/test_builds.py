from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from importlib import metadata

import httpx
import pytest
import sqlalchemy as sa
from factories import SOURCE, TIMESTAMP, connect, environment, resource_of, service, version, walk

from callbox import rules
from callbox.api import builds as module
from callbox.api.app import Api
from callbox.builds.builder import Builder
from callbox.builds.validate import parse_dependencies
from callbox.config import Config
from callbox.store.accounts import Accounts
from callbox.store.db import Store
from callbox.store.sids import VERSION, new_sid
from callbox.store.tables import build_versions, builds, environments, versions

TWILIO = {"name": "twilio", "version": metadata.version("twilio")}


async def create(client: httpx.AsyncClient, svc: dict, **data: object) -> httpx.Response:
    return await client.post(f"/v1/Services/{svc['sid']}/Builds", data=data)


async def created(client: httpx.AsyncClient, svc: dict, **data: object) -> dict:
    r = await create(client, svc, **data)
    assert r.status_code == 201, r.text
    return r.json()


DIGEST = hashlib.sha256(SOURCE.encode()).hexdigest()  # the factories' default content


def bad(r: httpx.Response, *words: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 20001
    for word in words:
        assert word in body["message"], body["message"]


# --- create -------------------------------------------------------------------------------


async def test_create_answers_the_wire_format(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    fn = version(store, svc, "function", "/hello", "protected")
    helper = version(store, svc, "function", "/helper", "private")
    asset = version(store, svc, "asset", "/style.css", "public")
    body = await created(client, svc, FunctionVersions=[fn, helper], AssetVersions=[asset])
    assert re.match(r"^ZB[0-9a-f]{32}$", body["sid"])
    url = f"http://api.test/v1/Services/{svc['sid']}/Builds/{body['sid']}"
    assert TIMESTAMP.match(body["date_created"]) and TIMESTAMP.match(body["date_updated"])
    assert body == {
        "sid": body["sid"],
        "account_sid": svc["account_sid"],
        "service_sid": svc["sid"],
        "status": "building",
        "asset_versions": [
            {
                "sid": asset,
                "account_sid": svc["account_sid"],
                "service_sid": svc["sid"],
                "asset_sid": resource_of(store, asset),
                "date_created": body["asset_versions"][0]["date_created"],
                "path": "/style.css",
                "visibility": "public",
                "content_sha256": DIGEST,
            }
        ],
        "function_versions": [
            {
                "sid": fn,
                "account_sid": svc["account_sid"],
                "service_sid": svc["sid"],
                "function_sid": resource_of(store, fn),
                "date_created": body["function_versions"][0]["date_created"],
                "path": "/hello",
                "visibility": "protected",
                "content_sha256": DIGEST,
            },
            {
                "sid": helper,
                "account_sid": svc["account_sid"],
                "service_sid": svc["sid"],
                "function_sid": resource_of(store, helper),
                "date_created": body["function_versions"][1]["date_created"],
                "path": "/helper",
                "visibility": "private",
                "content_sha256": DIGEST,
            },
        ],
        "dependencies": [TWILIO],
        "runtime": "python3.11",
        "error": None,
        "log": "",
        "date_created": body["date_created"],
        "date_updated": body["date_updated"],
        "url": url,
        "links": {"build_status": f"{url}/Status"},
    }
    assert TIMESTAMP.match(body["function_versions"][0]["date_created"])
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(build_versions.c.version_sid, build_versions.c.position)
            .where(build_versions.c.build_sid == body["sid"])
            .order_by(build_versions.c.position)
        ).all()
        stored = conn.execute(sa.select(builds).where(builds.c.sid == body["sid"])).one()
    assert [tuple(r) for r in rows] == [(fn, 0), (helper, 1), (asset, 2)]
    assert json.loads(stored.dependencies) == [TWILIO]
    assert stored.status == "building" and stored.log == "" and stored.error is None


async def test_assets_only_and_service_by_unique_name(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    asset = version(store, svc, "asset", "/a.txt")
    r = await client.post("/v1/Services/my-app/Builds", data={"AssetVersions": asset})
    assert r.status_code == 201, r.text
    assert r.json()["service_sid"] == svc["sid"] and r.json()["function_versions"] == []
    assert r.json()["url"].startswith(f"http://api.test/v1/Services/{svc['sid']}/Builds/")


async def test_builder_is_asked_after_the_commit(
    store: Store, accounts: Accounts, owner: tuple[str, str]
) -> None:
    seen: list[tuple[str, str]] = []

    class Recorder:
        def submit(self, build_sid: str) -> None:
            # The build must already be visible to another connection when the builder starts.
            with store.begin() as conn:
                query = sa.select(builds.c.status).where(builds.c.sid == build_sid)
                seen.append((build_sid, conn.execute(query).scalar_one()))

    api = Api(config=Config.load({}), store=store, accounts=accounts, builder=Recorder())  # type: ignore[arg-type]
    async with connect(api, owner) as c:
        svc = await service(c)
        body = await created(c, svc, FunctionVersions=version(store, svc))
        bad(await create(c, svc))  # a refused build is never submitted
    assert seen == [(body["sid"], "building")]


async def test_none_given_is_400(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    bad(await create(client, svc), "At least one function version or asset version")
    bad(await create(client, svc, FunctionVersions="", AssetVersions=""), "At least one")
    bad(await create(client, svc, Runtime="python3.11"), "At least one")


# --- dependencies -------------------------------------------------------------------------


async def test_dependencies_as_the_npm_client_quotes_them(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    fn = version(store, svc)
    raw = '"[{"name":"x","version":"1.0"}]"'  # one pair of literal quotes around the JSON
    body = await created(client, svc, FunctionVersions=fn, Dependencies=raw)
    assert body["dependencies"] == [{"name": "x", "version": "1.0"}, TWILIO]
    plain = '[{"name": "requests", "version": ">=2.31"}, {"name": "Foo_Bar.baz", "version": ""}]'
    body = await created(client, svc, FunctionVersions=fn, Dependencies=plain)
    assert body["dependencies"] == [
        {"name": "requests", "version": ">=2.31"},
        {"name": "Foo_Bar.baz", "version": ""},
        TWILIO,
    ]
    fetched = (await client.get(body["url"])).json()
    assert fetched["dependencies"] == body["dependencies"]


async def test_an_explicit_twilio_is_kept(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    fn = version(store, svc)
    for name in ("twilio", "Twilio"):
        deps = json.dumps([{"name": name, "version": "9.0.0"}])
        body = await created(client, svc, FunctionVersions=fn, Dependencies=deps)
        assert body["dependencies"] == [{"name": name, "version": "9.0.0"}]


async def test_empty_dependencies_and_the_runtime_handler(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    fn = version(store, svc)
    for empty in ("", "[]", '"[]"'):
        body = await created(client, svc, FunctionVersions=fn, Dependencies=empty)
        assert body["dependencies"] == [TWILIO], empty
    # The Twilio toolkit always sends its Node runtime handler: accepted, the builder skips it.
    deps = '[{"name":"@twilio/runtime-handler","version":"2.0.0"}]'
    body = await created(client, svc, FunctionVersions=fn, Dependencies=deps)
    assert body["dependencies"][0] == {"name": "@twilio/runtime-handler", "version": "2.0.0"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("not json", ["must be a JSON array", "not JSON"]),
        ('"[{"name": "x"', ["not JSON"]),
        ('{"name": "x", "version": "1"}', ["found a JSON object"]),
        ("null", ["found a JSON null"]),
        ("42", ["found a JSON number"]),
        ('""x""', ["found a JSON string"]),  # one pair of quotes is stripped, not two
        ("[1]", ["Dependencies[0]", "string name and a string version", "found 1"]),
        ('[{"name": "x"}]', ["Dependencies[0]", "found {"]),
        ('[{"version": "1"}]', ["Dependencies[0]"]),
        ('[{"name": "a", "version": "1"}, {"name": "x", "version": 1}]', ["Dependencies[1]"]),
        ('[{"name": 5, "version": "1"}]', ["Dependencies[0]"]),
        ('[["x", "1"]]', ["Dependencies[0]"]),
        ('[{"name": "bad name", "version": "1"}]', ["'bad name'", "not a Python package name"]),
        ('[{"name": "-x", "version": "1"}]', ["not a Python package name"]),
        ('[{"name": "x;rm", "version": "1"}]', ["not a Python package name"]),
        ('[{"name": "", "version": "1"}]', ["not a Python package name"]),
        ('[{"name": "lodash@4", "version": "1"}]', ["not a Python package name"]),
        (
            json.dumps([{"name": "x", "version": "1" * 101}]),
            ["at most 100 characters, found 101"],
        ),
        # The builder's rules, applied at create: a version is what pip reads after a name
        # (packaging): a specifier, "@ URL", "; marker", never a comment or an option.
        ('[{"name": "x", "version": "1.0; os_name==1"}]', ["'1.0; os_name==1'", "not a version"]),
        ('[{"name": "x", "version": "@"}]', ["not a version"]),
        ('[{"name": "x", "version": "1.0 # note"}]', ["not a version"]),
        ('[{"name": "x", "version": "^1.2"}]', ["use for example 1.2.0, >=1.2, *"]),
        ('[{"name": "twilio", "version": "9.0\\n--index-url x"}]', ["control character"]),
        (
            '[{"name": "@twilio/runtime-handler", "version": "^2.0.0"}]',
            ["needs an exact version such as 2.0.0; found '^2.0.0'"],
        ),
    ],
)
async def test_bad_dependencies(
    client: httpx.AsyncClient, store: Store, raw: str, words: list[str]
) -> None:
    svc = await service(client)
    r = await create(client, svc, FunctionVersions=version(store, svc), Dependencies=raw)
    bad(r, *words)


async def test_what_the_api_accepts_the_builder_accepts(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    deps = [
        {"name": "requests[socks]", "version": ">=2.31, <3"},
        {"name": "Foo_Bar", "version": "~=1.4"},
        {"name": "twilio[async]", "version": "*"},  # names twilio: nothing is added
    ]
    body = await created(
        client, svc, FunctionVersions=version(store, svc), Dependencies=json.dumps(deps)
    )
    assert body["dependencies"] == deps
    with store.begin() as conn:
        stored = conn.execute(sa.select(builds.c.dependencies)).scalar_one()
    parsed = parse_dependencies(stored)
    assert parsed.install == ["foo-bar~=1.4", "requests[socks]<3,>=2.31"]
    assert parsed.provided == ["twilio[async]"]


async def test_a_version_of_100_characters_is_accepted(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    deps = json.dumps([{"name": "x", "version": "1" * 100}])
    await created(client, svc, FunctionVersions=version(store, svc), Dependencies=deps)


# --- versions -----------------------------------------------------------------------------


async def test_unknown_foreign_and_wrong_kind_versions(
    client: httpx.AsyncClient, other: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    mine = await service(client, "second")
    theirs = await service(other, "theirs")
    fn = version(store, svc)
    asset = version(store, svc, "asset", "/a.txt")
    unknown = new_sid(VERSION)
    r = await create(client, svc, FunctionVersions=[fn, unknown])
    bad(r)
    assert r.json()["message"] == f"Function version {unknown} was not found in this service"
    r = await create(client, svc, AssetVersions=unknown)
    assert r.json()["message"] == f"Asset version {unknown} was not found in this service"
    # Another service of the same account, and another account's service: not in this service.
    for foreign in (version(store, mine), version(store, theirs)):
        r = await create(client, svc, FunctionVersions=foreign)
        bad(r, f"Function version {foreign} was not found in this service")
    r = await create(client, svc, AssetVersions=fn)
    bad(r, fn, "is a function version", "AssetVersions takes asset versions only")
    r = await create(client, svc, FunctionVersions=asset)
    bad(r, asset, "is an asset version", "FunctionVersions takes function versions only")
    r = await create(client, svc, FunctionVersions=fn, AssetVersions=fn)
    bad(r, fn, "listed twice")
    r = await create(client, svc, FunctionVersions=[fn, fn])
    bad(r, fn, "listed twice")
    for malformed in ("abc", "ZH" + "0" * 32, "ZN123", "ZN" + "g" * 32):
        r = await create(client, svc, FunctionVersions=malformed)
        bad(r, "FunctionVersions must hold version SIDs", repr(malformed))
    with store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(builds)).scalar_one() == 0


async def test_two_versions_with_one_path(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    first = version(store, svc, "function", "/same")
    second = version(store, svc, "function", "/same")
    asset = version(store, svc, "asset", "/same")
    r = await create(client, svc, FunctionVersions=[first, second])
    bad(r, "path /same", first, second)
    r = await create(client, svc, FunctionVersions=first, AssetVersions=asset)
    bad(r, "path /same", first, asset)
    await created(client, svc, FunctionVersions=first)


async def test_asset_limits_per_visibility(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(module.MAX_ASSETS, "private", 2)
    monkeypatch.setitem(module.MAX_ASSETS, "public", 1)
    monkeypatch.setitem(module.MAX_ASSETS, "protected", 1)
    monkeypatch.setattr(rules, "MAX_PRIVATE_ASSET_BYTES", 10)
    monkeypatch.setattr(rules, "MAX_ASSET_BYTES", 20)
    svc = await service(client)
    private = [version(store, svc, "asset", f"/p{i}", "private", b"x" * 10) for i in range(3)]
    r = await create(client, svc, AssetVersions=private)
    bad(r, "at most 2 private assets; found 3")
    await created(client, svc, AssetVersions=private[:2])
    # Each visibility counts on its own: one public and one protected fit limits of one each.
    public = version(store, svc, "asset", "/pub", "public", b"x" * 20)
    protected = version(store, svc, "asset", "/prot", "protected", b"x")
    await created(client, svc, AssetVersions=[public, protected, *private[:2]])
    public2 = version(store, svc, "asset", "/pub2", "public", b"x")
    bad(await create(client, svc, AssetVersions=[public, public2]), "1 public assets; found 2")
    big = version(store, svc, "asset", "/big", "private", b"x" * 11)
    r = await create(client, svc, AssetVersions=big)
    bad(r, "Private asset /big", big, "11 bytes", "at most 10 bytes each")
    # Function versions are not assets: they count against no asset limit.
    functions = [version(store, svc, "function", f"/f{i}", "private") for i in range(3)]
    await created(client, svc, FunctionVersions=functions)


def test_asset_limits_follow_the_seed() -> None:
    mb = 1024 * 1024
    sizes = {"public": 25 * mb, "protected": 25 * mb, "private": 10 * mb}
    assert sizes == {visibility: rules.max_bytes("asset", visibility) for visibility in sizes}
    assert module.MAX_ASSETS == {"public": 1000, "protected": 1000, "private": 50}


async def test_a_deleted_version_leaves_the_build_json(
    client: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    keep, gone = version(store, svc, path="/keep"), version(store, svc, path="/gone")
    body = await created(client, svc, FunctionVersions=[keep, gone])
    r = await client.delete(f"/v1/Services/{svc['sid']}/Functions/{resource_of(store, gone)}")
    assert r.status_code == 204
    fetched = (await client.get(body["url"])).json()
    assert [v["sid"] for v in fetched["function_versions"]] == [keep]


# --- runtime ------------------------------------------------------------------------------


async def test_runtime_rules(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    fn = version(store, svc)
    assert (await created(client, svc, FunctionVersions=fn))["runtime"] == "python3.11"
    assert (await created(client, svc, FunctionVersions=fn, Runtime=""))["runtime"] == "python3.11"
    for runtime in ("python3.11", "python3.12", "python3.13"):
        body = await created(client, svc, FunctionVersions=fn, Runtime=runtime)
        assert body["runtime"] == runtime
    for node in ("node18", "node20", "node22"):  # whether this server has it: the build says
        body = await created(client, svc, FunctionVersions=fn, Runtime=node)
        assert body["runtime"] == node
    for other in ("python3", "python3.10", "Python3.11", "ruby", "node24", "node16"):
        r = await create(client, svc, FunctionVersions=fn, Runtime=other)
        bad(r, "python3.11, python3.12, python3.13, node18, node20, node22", repr(other))
    bad(await create(client, svc, FunctionVersions=fn, Runtime="p" * 33), "Runtime is too long")


# --- list, fetch, status ------------------------------------------------------------------


async def test_list_pagination(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    second = await service(client, "second")
    await created(client, second, FunctionVersions=version(store, second))
    fns = [version(store, svc, path=f"/f{i}") for i in range(5)]
    made = [(await created(client, svc, FunctionVersions=fn))["sid"] for fn in fns]
    base = f"/v1/Services/{svc['sid']}/Builds"
    prefix = f"http://api.test{base}?"
    seen, body = await walk(client, base, key="builds", prefix=prefix, PageSize=2)
    assert [b["sid"] for b in seen] == made
    assert [b["function_versions"][0]["sid"] for b in seen] == fns
    assert all(b["dependencies"] == [TWILIO] and b["links"]["build_status"] for b in seen)
    assert body["meta"]["page"] == 2
    r = await client.get("/v1/Services/my-app/Builds")
    assert [b["sid"] for b in r.json()["builds"]] == made
    bad(await client.get(base, params={"PageSize": "zero"}))


async def test_fetch_and_status(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    body = await created(client, svc, FunctionVersions=version(store, svc))
    for key in (svc["sid"], "my-app"):
        r = await client.get(f"/v1/Services/{key}/Builds/{body['sid']}")
        assert r.status_code == 200 and r.json() == body
    with store.begin() as conn:
        conn.execute(
            builds.update()
            .where(builds.c.sid == body["sid"])
            .values(status="failed", error="It broke.", log="line 1\nline 2")
        )
    r = await client.get(f"/v1/Services/my-app/Builds/{body['sid']}/Status")
    assert r.status_code == 200
    assert r.json() == {
        "sid": body["sid"],
        "account_sid": svc["account_sid"],
        "service_sid": svc["sid"],
        "status": "failed",
        "url": f"{body['url']}/Status",
    }
    fetched = (await client.get(body["url"])).json()
    assert fetched["error"] == "It broke." and fetched["log"] == "line 1\nline 2"


async def test_a_build_of_another_service_is_404(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    second = await service(client, "second")
    body = await created(client, svc, FunctionVersions=version(store, svc))
    for method, suffix in (("GET", ""), ("GET", "/Status"), ("DELETE", "")):
        r = await client.request(
            method, f"/v1/Services/{second['sid']}/Builds/{body['sid']}{suffix}"
        )
        assert r.status_code == 404, (method, suffix)


async def test_malformed_sids_are_404(client: httpx.AsyncClient) -> None:
    svc = await service(client)
    base = f"/v1/Services/{svc['sid']}/Builds"
    for sid in ("abc", "ZB123", "ZE" + "0" * 32, "ZB" + "z" * 32, new_sid("ZB")):
        for method, suffix in (("GET", ""), ("GET", "/Status"), ("DELETE", "")):
            r = await client.request(method, f"{base}/{sid}{suffix}")
            assert r.status_code == 404, (sid, method, suffix)
            assert r.json()["code"] == 20404
    r = await client.get(f"/v1/Services/nope/Builds/{new_sid('ZB')}")
    assert r.status_code == 404
    assert r.json()["message"].startswith("The requested resource /Services/nope/Builds/ZB")


# --- delete -------------------------------------------------------------------------------


async def test_delete(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    body = await created(client, svc, FunctionVersions=version(store, svc))
    r = await client.delete(body["url"])
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(body["url"])).status_code == 404
    assert (await client.delete(body["url"])).status_code == 404
    with store.begin() as conn:
        left = sa.select(sa.func.count()).where(build_versions.c.build_sid == body["sid"])
        assert conn.execute(left).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one() == 1


async def test_a_deployed_build_cannot_be_deleted(client: httpx.AsyncClient, store: Store) -> None:
    svc = await service(client)
    fn = version(store, svc)
    body = await created(client, svc, FunctionVersions=fn)
    later = await created(client, svc, FunctionVersions=fn)
    env = (await environment(client, svc["sid"], DomainSuffix="dev"))["sid"]

    def serve(build_sid: str) -> None:
        with store.begin() as conn:
            conn.execute(
                environments.update().where(environments.c.sid == env).values(build_sid=build_sid)
            )

    serve(body["sid"])
    r = await client.delete(body["url"])
    assert r.status_code == 409
    assert r.json()["code"] == 20409
    assert r.json()["message"] == (
        f"Build {body['sid']} is deployed in environment dev-environment; "
        "deploy another build there first"
    )
    assert (await client.get(body["url"])).status_code == 200
    serve(later["sid"])
    assert (await client.delete(body["url"])).status_code == 204


# --- accounts -----------------------------------------------------------------------------


async def test_another_account_gets_404_everywhere(
    client: httpx.AsyncClient, other: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(client)
    fn = version(store, svc)
    body = await created(client, svc, FunctionVersions=fn)
    base = f"/v1/Services/{svc['sid']}/Builds"
    for path in (base, f"{base}/{body['sid']}", f"{base}/{body['sid']}/Status"):
        r = await other.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == 20404
    r = await other.post(base, data={"FunctionVersions": fn})
    assert r.status_code == 404
    r = await other.delete(f"{base}/{body['sid']}")
    assert r.status_code == 404
    # Their own service of the same unique name does not reach the owner's build either.
    await service(other, "my-app")
    assert (await other.get(f"/v1/Services/my-app/Builds/{body['sid']}")).status_code == 404
    assert (await other.get("/v1/Services/my-app/Builds")).json()["builds"] == []
    assert (await client.get(body["url"])).status_code == 200


# --- with the real builder ----------------------------------------------------------------


@pytest.fixture
async def building(
    store: Store, accounts: Accounts, owner: tuple[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The owner's client on an Api whose builds really run (no dependencies to install)."""
    builder = Builder(store, Config.load({}))
    api = Api(config=Config.load({}), store=store, accounts=accounts, builder=builder)
    try:
        async with connect(api, owner) as c:
            yield c
    finally:
        builder.close()


async def finished(client: httpx.AsyncClient, url: str) -> str:
    for _ in range(100):
        r = await client.get(f"{url}/Status")
        assert r.status_code == 200, r.text
        if r.json()["status"] != "building":
            return str(r.json()["status"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} was still building after 10 s")


async def test_a_real_build_completes(building: httpx.AsyncClient, store: Store) -> None:
    svc = await service(building)
    asset = version(store, svc, "asset", "/data.txt", "private", b"some data")
    body = await created(building, svc, FunctionVersions=version(store, svc), AssetVersions=asset)
    assert body["status"] == "building"
    assert await finished(building, body["url"]) == "completed"
    done = (await building.get(body["url"])).json()
    assert done["error"] is None and "Build completed" in done["log"]
    assert done["date_updated"] >= done["date_created"]


async def test_a_function_without_handler_fails_the_build(
    building: httpx.AsyncClient, store: Store
) -> None:
    svc = await service(building)
    fn = version(store, svc, content=b"def helper():\n    return 1\n")
    body = await created(building, svc, FunctionVersions=fn)
    assert await finished(building, body["url"]) == "failed"
    done = (await building.get(body["url"])).json()
    assert "has no `handler`" in done["error"] and "helper" in done["error"]
    assert "The build failed." in done["log"]
