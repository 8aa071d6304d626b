"""hosting.py: the deployed environments as the gateway sees them, and when they change."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callbox.builds.builder import Builder
from callbox.config import Config
from callbox.errors import InternalError, ServiceUnavailable
from callbox.hosting import Environments
from callbox.store.accounts import Accounts
from callbox.store.db import Store, utcnow
from callbox.store.sids import BUILD, ENVIRONMENT, RESOURCE, SERVICE, VARIABLE, VERSION, new_sid
from callbox.store.tables import (
    build_versions,
    builds,
    environments,
    resources,
    services,
    variables,
    versions,
)

HELLO = b"def handler(context, event, callback):\n    return 'hi'\n"


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.store = Store.open(tmp_path / "data")
        self.accounts = Accounts(self.store)
        owner = self.accounts.ensure_owner()
        assert owner is not None
        self.account_sid, self.token = owner
        self.builder = Builder(self.store, Config.load({}))
        self.served: list[set[str]] = []
        self.environments = Environments(
            self.store, self.accounts, self.builder, self.served.append
        )
        self.service_sid = new_sid(SERVICE)
        self.env_sid = new_sid(ENVIRONMENT)
        now = utcnow()
        with self.store.begin() as conn:
            conn.execute(
                services.insert().values(
                    sid=self.service_sid,
                    account_sid=self.account_sid,
                    unique_name="shop",
                    friendly_name="Shop",
                    include_credentials=True,
                    ui_editable=False,
                    domain_base="shop-1234",
                    date_created=now,
                    date_updated=now,
                )
            )
            conn.execute(
                environments.insert().values(
                    sid=self.env_sid,
                    account_sid=self.account_sid,
                    service_sid=self.service_sid,
                    unique_name="production",
                    domain_suffix=None,
                    domain_name="shop-1234.localhost",
                    date_created=now,
                    date_updated=now,
                )
            )

    def build(self, files: dict[str, tuple[str, str, bytes]]) -> str:
        """A completed build of ``files`` (path -> (kind, visibility, content))."""
        sid, now = new_sid(BUILD), utcnow()
        with self.store.begin() as conn:
            conn.execute(
                builds.insert().values(
                    sid=sid,
                    account_sid=self.account_sid,
                    service_sid=self.service_sid,
                    status="building",
                    runtime="python3.11",
                    dependencies="[]",
                    log="",
                    date_created=now,
                    date_updated=now,
                )
            )
            for position, (path, (kind, visibility, content)) in enumerate(files.items()):
                resource, version = new_sid(RESOURCE), new_sid(VERSION)
                conn.execute(
                    resources.insert().values(
                        sid=resource,
                        account_sid=self.account_sid,
                        service_sid=self.service_sid,
                        kind=kind,
                        friendly_name=path,
                        date_created=now,
                        date_updated=now,
                    )
                )
                conn.execute(
                    versions.insert().values(
                        sid=version,
                        account_sid=self.account_sid,
                        service_sid=self.service_sid,
                        resource_sid=resource,
                        kind=kind,
                        path=path,
                        visibility=visibility,
                        content_sha256=self.store.blobs.put(content),
                        size=len(content),
                        content_type="text/plain",
                        date_created=now,
                    )
                )
                conn.execute(
                    build_versions.insert().values(
                        build_sid=sid, version_sid=version, position=position
                    )
                )
        self.builder.run(sid)
        return sid

    def deploy(self, build_sid: str | None) -> None:
        with self.store.begin() as conn:
            conn.execute(
                environments.update()
                .where(environments.c.sid == self.env_sid)
                .values(build_sid=build_sid, deployment_sid="ZD" + "0" * 32)
            )
        self.environments.changed(self.env_sid)

    def set_variable(self, key: str, value: str) -> None:
        now = utcnow()
        with self.store.begin() as conn:
            conn.execute(variables.delete().where(variables.c.key == key))
            conn.execute(
                variables.insert().values(
                    sid=new_sid(VARIABLE),
                    account_sid=self.account_sid,
                    service_sid=self.service_sid,
                    environment_sid=self.env_sid,
                    key=key,
                    value_sealed=self.store.box.seal(value),
                    date_created=now,
                    date_updated=now,
                )
            )
        self.environments.changed(self.env_sid)


@pytest.fixture
def world(tmp_path: Path) -> World:
    made = World(tmp_path)
    yield made
    made.builder.close()
    made.store.close()


async def test_nothing_is_served_before_a_deployment(world: World) -> None:
    assert await world.environments.resolve("shop-1234.localhost") is None
    assert await world.environments.resolve("other-9999.localhost") is None


async def test_a_deployed_build_with_its_context(world: World) -> None:
    sid = world.build(
        {
            "/hello": ("function", "public", HELLO),
            "/lib/x": ("function", "private", b"X = 1\n"),
            "/site.css": ("asset", "public", b"body{}"),
        }
    )
    world.deploy(sid)
    world.set_variable("GREETING", "hej")
    deployment = await world.environments.resolve("SHOP-1234.localhost")
    assert deployment is not None and deployment.build_key == sid
    assert deployment.routes["/hello"].file.read_bytes() == HELLO
    assert deployment.routes["/site.css"].file.read_bytes() == b"body{}"
    assert deployment.routes["/lib/x"].visibility == "private"
    assert deployment.domain == "shop-1234.localhost"
    assert deployment.variables == {
        "GREETING": "hej",
        "ACCOUNT_SID": world.account_sid,
        "AUTH_TOKEN": world.token,
    }
    assert deployment.auth_token == world.token
    assert deployment.log_tags["environment_sid"] == world.env_sid
    assert deployment.log_tags["build_sid"] == sid


async def test_without_include_credentials_the_context_has_no_token(world: World) -> None:
    world.deploy(world.build({"/hello": ("function", "public", HELLO)}))
    with world.store.begin() as conn:
        conn.execute(services.update().values(include_credentials=False))
    world.environments.changed(world.service_sid)
    deployment = await world.environments.resolve("shop-1234.localhost")
    assert deployment is not None
    assert "AUTH_TOKEN" not in deployment.variables
    assert deployment.auth_token == world.token  # signatures are still checked with it


def second_environment(world: World, build_sid: str) -> str:
    """A dev environment of the same service, serving ``build_sid``; its sid."""
    sid, now = new_sid(ENVIRONMENT), utcnow()
    with world.store.begin() as conn:
        conn.execute(
            environments.insert().values(
                sid=sid,
                account_sid=world.account_sid,
                service_sid=world.service_sid,
                unique_name="dev-environment",
                domain_suffix="dev",
                domain_name="shop-1234-dev.localhost",
                build_sid=build_sid,
                deployment_sid="ZD" + "1" * 32,
                date_created=now,
                date_updated=now,
            )
        )
    return sid


async def test_a_change_drops_only_what_it_affects(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_sid = world.build({"/hello": ("function", "public", HELLO)})
    world.deploy(build_sid)
    dev_sid = second_environment(world, build_sid)
    production = await world.environments.resolve("shop-1234.localhost")
    dev = await world.environments.resolve("shop-1234-dev.localhost")
    assert await world.environments.resolve("nobody-1.localhost") is None
    loads: list[str] = []
    load = world.environments.load
    monkeypatch.setattr(world.environments, "load", lambda host: loads.append(host) or load(host))

    world.set_variable("A", "1")  # production's: dev keeps its cached lookup
    assert await world.environments.resolve("shop-1234-dev.localhost") is dev
    again = await world.environments.resolve("shop-1234.localhost")
    assert again is not production and again is not None and again.variables["A"] == "1"
    # An unknown host is asked again after any change: a deployment may have made it known.
    assert await world.environments.resolve("nobody-1.localhost") is None
    assert loads == ["shop-1234.localhost", "nobody-1.localhost"]

    world.environments.changed(dev_sid)
    assert await world.environments.resolve("shop-1234.localhost") is again
    assert await world.environments.resolve("shop-1234-dev.localhost") is not dev
    loads.clear()
    world.environments.changed(world.service_sid)  # the service: both of its environments
    await world.environments.resolve("shop-1234.localhost")
    await world.environments.resolve("shop-1234-dev.localhost")
    assert loads == ["shop-1234.localhost", "shop-1234-dev.localhost"]
    loads.clear()
    world.environments.changed()  # anything: everything
    await world.environments.resolve("shop-1234.localhost")
    assert loads == ["shop-1234.localhost"]


async def test_with_the_database_away_after_a_change_the_last_known_build_is_served(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world.deploy(world.build({"/hello": ("function", "public", HELLO)}))
    known = await world.environments.resolve("shop-1234.localhost")
    assert known is not None
    world.set_variable("A", "1")  # dropped from the cache, not read again before...
    database_away(world, monkeypatch)  # ...the database goes
    assert await world.environments.resolve("shop-1234.localhost") is known
    assert await world.environments.resolve("shop-1234.localhost") is known
    warned = [r for r in caplog.records if "serving shop-1234.localhost as last known" in r.message]
    assert len(warned) == 1  # once per outage, not once per request
    with pytest.raises(ServiceUnavailable):  # never looked up: nothing to fall back on
        await world.environments.resolve("other-9999.localhost")
    monkeypatch.undo()
    world.environments._away_until = 0.0  # the pause after a failed lookup is over
    back = await world.environments.resolve("shop-1234.localhost")
    assert back is not None and back is not known and back.variables["A"] == "1"
    assert world.environments._stale == {}


async def test_last_known_is_only_what_still_serves_the_same_build(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.build({"/hello": ("function", "public", HELLO)})
    world.deploy(first)
    assert await world.environments.resolve("shop-1234.localhost") is not None
    world.deploy(world.build({"/hello": ("function", "public", HELLO)}))  # another build
    assert set(world.environments._stale) == {"shop-1234.localhost"}
    await world.environments._after_change()  # what a change schedules, the database there
    assert world.environments._stale == {}  # the first build may be deleted, its pool drained
    assert await world.environments.resolve("shop-1234.localhost") is not None
    with world.store.begin() as conn:
        conn.execute(environments.delete().where(environments.c.sid == world.env_sid))
    world.environments.changed(world.env_sid)
    await world.environments._after_change()
    assert world.environments._stale == {}  # a deleted environment is never served again
    database_away(world, monkeypatch)
    with pytest.raises(ServiceUnavailable):
        await world.environments.resolve("shop-1234.localhost")


async def test_lookups_are_cached_until_a_change(world: World) -> None:
    world.deploy(world.build({"/hello": ("function", "public", HELLO)}))
    first = await world.environments.resolve("shop-1234.localhost")
    assert await world.environments.resolve("shop-1234.localhost") is first
    world.set_variable("A", "1")
    second = await world.environments.resolve("shop-1234.localhost")
    assert second is not first and second is not None and second.variables["A"] == "1"


async def test_a_change_during_a_lookup_never_leaves_it_cached(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: a changed() from an API thread while a lookup was on its way could leave
    # the stale lookup in the new cache. Every wait has a timeout: a regression fails, not hangs.
    host = "shop-1234.localhost"
    old = world.build({"/hello": ("function", "public", HELLO)})
    new = world.build({"/hello": ("function", "public", HELLO + b"# v2\n")})
    world.deploy(old)
    loaded, release = threading.Event(), threading.Event()
    load = world.environments.load

    def held_load(name: str) -> Any:
        found = load(name)  # read before the change ...
        loaded.set()
        assert release.wait(5), "the lookup was never released"
        return found  # ... handed back after it

    monkeypatch.setattr(world.environments, "load", held_load)
    lookup = asyncio.create_task(world.environments.resolve(host))
    assert await asyncio.to_thread(loaded.wait, 5), "the lookup never started"
    api_thread = threading.Thread(target=world.deploy, args=(new,), daemon=True)
    api_thread.start()
    await asyncio.to_thread(api_thread.join, 5)
    assert not api_thread.is_alive(), "changed() did not return while a lookup was loading"
    release.set()
    stale = await asyncio.wait_for(lookup, 5)
    assert stale is not None and stale.build_key == old
    assert host not in world.environments._cache
    fresh = await asyncio.wait_for(world.environments.resolve(host), 5)
    assert fresh is not None and fresh.build_key == new


async def test_a_change_drains_builds_no_longer_deployed(world: World) -> None:
    old = world.build({"/hello": ("function", "public", HELLO)})
    world.deploy(old)
    await world.environments.resolve("shop-1234.localhost")
    new = world.build({"/hello": ("function", "public", HELLO + b"# v2\n")})
    world.deploy(new)
    for _ in range(100):
        if world.served:
            break
        await asyncio.sleep(0.01)
    assert world.served[-1] == {new}


async def test_a_missing_build_folder_is_written_again(world: World) -> None:
    sid = world.build({"/hello": ("function", "public", HELLO)})
    world.deploy(sid)
    world.builder.discard(sid)
    deployment = await world.environments.resolve("shop-1234.localhost")
    assert deployment is not None and deployment.routes["/hello"].file.read_bytes() == HELLO


# --- builds not on this node's disk yet, and the database away ----------------------------


class HeldPreparation:
    """The builder's ensure_materialised, held until ``release`` (and counted)."""

    def __init__(self, world: World) -> None:
        self.real = world.builder.ensure_materialised
        self.release = threading.Event()
        self.calls = 0
        self.error: Exception | None = None

    def __call__(self, build_sid: str) -> Path:
        self.calls += 1
        assert self.release.wait(10), "the test never released the preparation"
        if self.error is not None:
            raise self.error
        return self.real(build_sid)


@pytest.fixture
def held(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldPreparation]:
    holder = HeldPreparation(world)
    monkeypatch.setattr(world.builder, "ensure_materialised", holder)
    yield holder
    holder.release.set()
    world.environments.close()


def built_elsewhere(world: World) -> str:
    """A deployed build whose folder is not on this node (as if built by another)."""
    sid = world.build({"/hello": ("function", "public", HELLO)})
    world.deploy(sid)
    world.builder.discard(sid)
    return sid


async def test_a_request_waits_for_its_build_then_gets_503_with_retry_after(
    world: World, held: HeldPreparation
) -> None:
    sid = built_elsewhere(world)
    world.environments.prepare_wait = 0.2
    started = asyncio.get_running_loop().time()
    with pytest.raises(ServiceUnavailable) as caught:
        await world.environments.resolve("shop-1234.localhost")
    assert asyncio.get_running_loop().time() - started >= 0.2  # it waited
    assert caught.value.status == 503 and caught.value.code == 20503
    assert caught.value.retry_after == 1
    assert f"Build {sid} is still being prepared on this node" in caught.value.message
    with pytest.raises(ServiceUnavailable):  # a second request: the same preparation
        await world.environments.resolve("shop-1234.localhost")
    assert held.calls == 1
    held.release.set()
    deployment = await world.environments.resolve("shop-1234.localhost")
    assert deployment is not None and deployment.routes["/hello"].file.read_bytes() == HELLO
    assert held.calls == 1


async def test_a_request_within_the_wait_is_served_when_its_build_is_ready(
    world: World, held: HeldPreparation
) -> None:
    built_elsewhere(world)
    world.environments.prepare_wait = 5.0
    lookup = asyncio.create_task(world.environments.resolve("shop-1234.localhost"))
    await asyncio.sleep(0.1)
    assert not lookup.done()
    held.release.set()
    deployment = await asyncio.wait_for(lookup, 5)
    assert deployment is not None and deployment.routes["/hello"].file.read_bytes() == HELLO


async def test_a_build_that_cannot_be_prepared_is_an_internal_error(
    world: World, held: HeldPreparation
) -> None:
    sid = built_elsewhere(world)
    held.error = OSError("no space left on device")
    held.release.set()
    with pytest.raises(InternalError) as caught:
        await world.environments.resolve("shop-1234.localhost")
    assert caught.value.message == (
        f"Build {sid} could not be prepared on this node (no space left on device); the server "
        "log has the details."
    )
    with pytest.raises(InternalError):  # remembered for a while, not tried per request
        await world.environments.resolve("shop-1234.localhost")
    assert held.calls == 1


async def test_a_change_prepares_deployed_builds_before_any_request(
    world: World, held: HeldPreparation
) -> None:
    world.environments.attach()
    sid = built_elsewhere(world)  # deploy() calls changed()
    held.release.set()
    for _ in range(500):
        if world.environments.preparer.ready(sid):
            break
        await asyncio.sleep(0.01)
    assert world.environments.preparer.ready(sid)
    assert held.calls == 1


async def test_a_build_prepared_once_is_prepared_again_when_its_folder_went(
    world: World, held: HeldPreparation
) -> None:
    sid = built_elsewhere(world)
    held.release.set()
    assert await world.environments.resolve("shop-1234.localhost") is not None
    world.builder.discard(sid)  # (the disk was cleaned)
    world.environments.changed()
    deployment = await world.environments.resolve("shop-1234.localhost")
    assert deployment is not None and deployment.routes["/hello"].file.read_bytes() == HELLO
    assert held.calls == 2


def database_away(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> Any:
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(world.store, "read", refused)


async def test_with_the_database_away_cached_hosts_are_served_and_others_get_503(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world.deploy(world.build({"/hello": ("function", "public", HELLO)}))
    cached = await world.environments.resolve("shop-1234.localhost")
    assert cached is not None
    assert await world.environments.resolve("nobody-1.localhost") is None  # cached as unknown
    database_away(world, monkeypatch)
    assert await world.environments.resolve("shop-1234.localhost") is cached
    assert await world.environments.resolve("nobody-1.localhost") is None
    with pytest.raises(ServiceUnavailable) as caught:
        await world.environments.resolve("other-9999.localhost")
    assert caught.value.status == 503 and caught.value.retry_after == 2
    assert caught.value.message == (
        "other-9999.localhost cannot be looked up: the database is unreachable. Try again shortly."
    )
    assert "Looking up other-9999.localhost failed: the database cannot be reached" in caplog.text
    monkeypatch.undo()  # it is back: the host was not remembered as unknown
    assert await world.environments.resolve("other-9999.localhost") is None
