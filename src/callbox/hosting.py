"""What ``callbox serve`` serves: each environment's deployed build, found by its domain.

The gateway is handed this as its DeploymentSource. Lookups are cached per Host; a change to
what is served (a deployment, a variable, a deleted environment or service) drops the cached
lookups of that environment or service and of unknown hosts, so the next request sees it, and
pools of builds no longer deployed anywhere are drained. A change made
through this node's API is acted on at once (``changed``); one made through another node comes
from the change feed (``apply``, called by cluster/watcher.py within a poll interval). A
deployment also starts its build's first worker, and its answer waits for it (``activated``),
so the first request does not pay for starting Python or Node.js and loading twilio; the other
nodes start theirs when they hear of it.

A deployed build must be on this node's disk to be served. Builds made elsewhere are prepared
in the background (builds/prepare.py) when the node starts and when it hears of a deployment;
a request that comes first waits up to ``prepare_wait`` seconds for that, then gets 503 with
Retry-After. If the database is away, what is cached goes on being served, and so is what a
change dropped from the cache but could not be read again (the node's last known state); a
Host never looked up gets 503.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from callbox.builds.prepare import Preparer
from callbox.builds.runtimes import language_of
from callbox.builds.validate import function_file
from callbox.errors import InternalError, ServiceUnavailable
from callbox.gateway.source import Deployment
from callbox.routes import Route
from callbox.store import slots
from callbox.store.accounts import Accounts
from callbox.store.changes import Change
from callbox.store.db import UNREACHABLE, Store
from callbox.store.tables import build_versions, builds, environments, services, versions
from callbox.store.variables import read_variables

log = logging.getLogger("callbox.hosting")

# How long a deployment's answer waits for its build's first worker (seconds).
WARM_WAIT = 10.0
# How long a request waits for its build to be prepared on this node before a 503 (seconds).
PREPARE_WAIT = 5.0
# Unknown hosts are remembered too (a scanner must not cost a query per request), up to a bound.
_MAX_CACHED = 10_000
# Once the database did not answer a lookup, hosts with a last known deployment are served it
# for this long without asking again (seconds): an outage must not cost every request a try.
_AWAY_PAUSE = 1.0


class BuildFiles(Protocol):
    """Where a build's files and dependencies are (the builder implements this)."""

    def build_dir(self, build_sid: str) -> Path: ...

    def ensure_materialised(self, build_sid: str) -> Path: ...

    def site_packages(self, build_sid: str) -> list[str]: ...


class NotPrepared(Exception):
    """The build a Host serves is not on this node's disk yet."""

    def __init__(self, build_sid: str) -> None:
        super().__init__(build_sid)
        self.build_sid = build_sid


class Environments:
    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        builds: BuildFiles,
        serve_only: Callable[[set[str]], None],
        warm: Callable[[Deployment], Awaitable[None]] | None = None,
        prepare_wait: float = PREPARE_WAIT,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.builds = builds
        self.serve_only = serve_only
        self.warm = warm
        self.prepare_wait = prepare_wait
        self.preparer = Preparer(builds)
        self._cache: dict[str, Deployment | None] = {}
        # Deployments a change dropped from the cache, served while the database is away.
        self._stale: dict[str, Deployment] = {}
        self._away_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0
        # changed() runs on API threads: the generation and the cache change together.
        self._lock = threading.Lock()

    def cached(self, host: str) -> Deployment | None:
        return self._cache.get(host.lower())

    async def resolve(self, host: str) -> Deployment | None:
        host = host.lower()
        try:
            return self._cache[host]
        except KeyError:
            pass
        stale = self._stale.get(host)
        if stale is not None and time.monotonic() < self._away_until:
            return stale
        self._loop = asyncio.get_running_loop()
        generation = self._generation
        try:
            try:
                deployment = await asyncio.to_thread(self.load, host)
            except NotPrepared as exc:
                await self._wait_prepared(exc.build_sid)
                deployment = await asyncio.to_thread(self.load, host)
        except NotPrepared as exc:  # deployed again meanwhile: that build is on its way too
            raise self._preparing(exc.build_sid) from None
        except UNREACHABLE as exc:
            if stale is not None:
                if time.monotonic() >= self._away_until + _AWAY_PAUSE:
                    log.warning(
                        "The database cannot be reached (%s); serving %s as last known.",
                        exc,
                        host,
                    )
                self._away_until = time.monotonic() + _AWAY_PAUSE
                return stale
            log.warning("Looking up %s failed: the database cannot be reached (%s).", host, exc)
            raise ServiceUnavailable(
                f"{host} cannot be looked up: the database is unreachable. Try again shortly.",
                retry_after=2,
            ) from None
        with self._lock:
            if generation == self._generation:  # no change happened while it was read
                self._stale.pop(host, None)
                if len(self._cache) >= _MAX_CACHED:
                    self._cache = {}
                self._cache[host] = deployment
        return deployment

    async def _wait_prepared(self, build_sid: str) -> None:
        """Wait (``prepare_wait`` at most) for the background preparation of ``build_sid``."""
        job = self.preparer.prepare(build_sid)
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), self.prepare_wait)
        except TimeoutError:
            raise self._preparing(build_sid) from None
        except Exception as exc:
            raise InternalError(
                f"Build {build_sid} could not be prepared on this node ({exc}); the server log "
                "has the details."
            ) from None

    def _preparing(self, build_sid: str) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"Build {build_sid} is still being prepared on this node (its files and "
            "dependencies); try again in a few seconds.",
            retry_after=max(1, round(self.prepare_wait)),
        )

    def attach(self) -> None:
        """Called on the server's event loop at start: changes are acted on from then on, and
        every deployed build not on this node's disk is prepared in the background."""
        self._loop = asyncio.get_running_loop()
        self._loop.create_task(self._after_change())

    def changed(self, sid: str = "") -> None:
        """Something served may have changed through this node's API (any thread; ``sid``: the
        environment or service, empty for anything): forget the cached lookups it affects,
        drain the pools of builds no longer deployed, prepare the ones deployed."""
        self._forget((sid,))
        self._after_changes()

    def _after_changes(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: loop.create_task(self._after_change()))

    def _forget(self, sids: Iterable[str]) -> None:
        """Drop the cached lookups changes to ``sids`` may affect: those of these environments
        (ZE) and services (ZS), every one for any other sid or none, and always the unknown
        hosts (a deployment may have made them known). Dropped deployments are kept aside."""
        sids = set(sids)
        everything = not sids or any(not sid.startswith(("ZE", "ZS")) for sid in sids)
        with self._lock:
            self._generation += 1
            kept: dict[str, Deployment | None] = {}
            dropped: dict[str, Deployment] = {}
            for host, deployment in self._cache.items():
                if deployment is None:
                    continue
                if everything or {deployment.environment_sid, deployment.service_sid} & sids:
                    dropped[host] = deployment
                else:
                    kept[host] = deployment
            self._cache = kept
            if len(self._stale) + len(dropped) > _MAX_CACHED:
                self._stale = {}
            self._stale.update(dropped)

    def apply(self, found: list[Change]) -> None:
        """Changes read from the change feed (the watcher's thread): the cached lookups they
        affect dropped, and the first worker of each environment deployed started."""
        deployed = {change.sid for change in found if change.kind == "deployment"}
        self._forget(change.sid for change in found)
        self._after_changes()
        loop = self._loop
        if self.warm is not None and loop is not None and not loop.is_closed():
            for environment_sid in deployed:
                loop.call_soon_threadsafe(self._start_warming, environment_sid)

    def _start_warming(self, environment_sid: str) -> None:
        assert self._loop is not None
        self._loop.create_task(self.warm_environment(environment_sid))

    async def _after_change(self) -> None:
        served = await self._served()
        if served is None:
            return
        self._prune_stale(served)
        active = set(served.values())
        self.serve_only(active)
        self.preparer.forget(active)
        for build_sid in active:
            if not self.preparer.ready(build_sid):
                self.preparer.prepare(build_sid)

    def close(self) -> None:
        self.preparer.close()

    def activated(self, environment_sid: str, timeout: float = WARM_WAIT) -> None:
        """From an API thread, after a deployment: start the environment's first worker and
        wait for it, ``timeout`` seconds at most (the deployment holds either way)."""
        loop = self._loop
        if self.warm is None or loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.warm_environment(environment_sid), loop)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            log.info("The first worker of environment %s is still starting.", environment_sid)

    async def warm_environment(self, environment_sid: str) -> None:
        """Start the first worker of the build the environment serves (if none runs)."""
        assert self.warm is not None
        try:
            domain = await asyncio.to_thread(self._domain_of, environment_sid)
            deployment = await self.resolve(domain) if domain else None
            if deployment is not None:
                await self.warm(deployment)
        except (ServiceUnavailable, InternalError) as exc:
            log.info("No worker started for environment %s yet: %s", environment_sid, exc)
        except Exception:  # noqa: BLE001 - an optimisation: the first request tries again
            log.exception("Could not start a worker for environment %s.", environment_sid)

    def _domain_of(self, environment_sid: str) -> str | None:
        with self.store.read() as conn:
            return conn.execute(
                sa.select(environments.c.domain_name).where(environments.c.sid == environment_sid)
            ).scalar()

    async def _served(self) -> dict[str, str] | None:
        """Domain -> the build it serves, for every environment with one (None if the
        database could not say)."""
        try:
            return await asyncio.to_thread(self.deployed_builds)
        except UNREACHABLE as exc:
            log.warning("Could not list the deployed builds: %s", exc)
            return None
        except Exception:  # noqa: BLE001 - draining is an optimisation; serving goes on
            log.exception("Could not list the deployed builds.")
            return None

    def _prune_stale(self, served: dict[str, str]) -> None:
        """Keep as last known only hosts that still serve the same build (their variables or
        service changed): not deleted environments, nor builds another one replaced (they
        may be deleted, their pools drained)."""
        with self._lock:
            self._stale = {
                host: deployment
                for host, deployment in self._stale.items()
                if served.get(host) == deployment.build_key
            }

    def deployed_builds(self) -> dict[str, str]:
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(environments.c.domain_name, environments.c.build_sid).where(
                    environments.c.build_sid.is_not(None)
                )
            )
            return {row.domain_name: row.build_sid for row in rows}

    def load(self, host: str) -> Deployment | None:
        """The deployment serving ``host``, read from the store (None: nothing deployed)."""
        with self.store.read() as conn:
            env = conn.execute(
                sa.select(environments, services.c.include_credentials)
                .join(services, services.c.sid == environments.c.service_sid)
                .where(environments.c.domain_name == host)
            ).first()
            if env is None or env.build_sid is None:
                return None
            rows = conn.execute(
                sa.select(versions)
                .join(build_versions, build_versions.c.version_sid == versions.c.sid)
                .where(build_versions.c.build_sid == env.build_sid)
            ).all()
            runtime = conn.execute(
                sa.select(builds.c.runtime).where(builds.c.sid == env.build_sid)
            ).scalar()
            values = read_variables(conn, self.store.box, env.sid)
        language = language_of(runtime or "")
        if not self.preparer.ready(env.build_sid):
            raise NotPrepared(env.build_sid)
        root = self.builds.build_dir(env.build_sid)
        token = self.accounts.auth_token(env.account_sid)
        if env.include_credentials and token is not None:
            values = {**values, "ACCOUNT_SID": env.account_sid, "AUTH_TOKEN": token}
        return Deployment(
            build_key=env.build_sid,
            service_key=env.service_sid,
            root=root,
            routes=dict(_routes(root, rows, language)),
            variables=values,
            domain=env.domain_name,
            service_sid=env.service_sid,
            environment_sid=env.sid,
            auth_token=token,
            site_packages=self.builds.site_packages(env.build_sid),
            slot=slots.slot_of(self.store, env.service_sid),
            runtime=language,
            log_tags={
                "account_sid": env.account_sid,
                "service_sid": env.service_sid,
                "environment_sid": env.sid,
                "build_sid": env.build_sid,
                "deployment_sid": env.deployment_sid,
            },
        )


def _routes(root: Path, rows: Sequence[Any], language: str) -> list[tuple[str, Route]]:
    routes = []
    for row in rows:
        file = root / function_file(row.kind, row.path, language)  # where the builder wrote it
        routes.append(
            (row.path, Route(row.path, row.kind, row.visibility, file, sid=row.resource_sid))
        )
    return routes
