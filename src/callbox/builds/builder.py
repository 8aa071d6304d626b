"""Run builds: check a build's versions, write them and its dependencies to disk, record it.

Builds run in the background, a few at a time; callbox.builds.materialise writes the folders.
A build folder appears only by renaming a complete temporary one, and the database row says
'completed' only once the folder is in place: a build never half-succeeds, on disk or in the
database.

With several nodes on one database a build runs on exactly one of them: the row is a job that
a node claims (``node`` set where it was empty, in one transaction under the writer lock) before
it runs it, and only the claiming node may record its outcome. The node that took the API call
submits it at once; any node with a free build slot claims builds nobody took
(``claim_queued``, every few seconds). A build whose node stopped is failed: by that node when
it starts again (``recover``), or by any other node once the dead node's heartbeat is older
than ``NODE_TIMEOUT`` (``fail_orphans``). It is failed rather than run again: an install that
killed one node would go on to kill the next, and the client, which waits for the build's
status, learns of it and can create it again.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from uv import find_uv_bin

from callbox.builds import npm
from callbox.builds.dependencies import readable_by_all
from callbox.builds.materialise import Folders, Version, check_languages, count
from callbox.builds.runtimes import (
    Language,
    check_runtime,
    language_of,
    node_executable,
    node_prefix,
)
from callbox.builds.validate import BuildFailure, parse_dependencies
from callbox.config import Config
from callbox.sandbox.fences import Fences
from callbox.sandbox.policy import Sandbox, interpreter
from callbox.store import slots
from callbox.store.db import Store, utcnow
from callbox.store.tables import build_versions, builds, versions

logger = logging.getLogger(__name__)

# An install's /tmp (MB, in its memory): uv builds source packages in its cache folder.
INSTALL_TMP_MB = 512
# Which certificate authorities an install trusts, as the server does (a registry behind a
# TLS-inspecting proxy): passed into the install's sandbox when the server has them.
TRUST_VARIABLES = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR")
INTERRUPTED = "The build was interrupted by a server restart; create it again."
ORPHANED = "The build was interrupted: node {node}, which ran it, stopped; create it again."
# How long close() lets running builds record their outcome (installs are killed first, so
# they fail at once); a build still running after it is failed by the next start's recover().
CLOSE_GRACE = 1.0


def _internal(exc: BaseException) -> str:
    # The exception's text may hold server paths (an OSError's file name): it goes to the log.
    return f"Internal error while building ({type(exc).__name__}); the server log has the details."


class Builder:
    """Runs builds in the background, ``build_concurrency`` at a time; answers for their files."""

    def __init__(
        self,
        store: Store,
        config: Config,
        sandbox: Sandbox | None = None,
        on_finished: Callable[[str, str, float], None] | None = None,
        node: str = "local",
    ) -> None:
        self.store = store
        self.node = node  # this node's name: the builds it claims carry it
        self.config = config
        self.sandbox = sandbox
        # (runtime, "completed" | "failed", seconds) once a build is recorded: the metrics.
        self.on_finished = on_finished
        fences = self._install_fences if sandbox is not None else None
        self.folders = Folders(store.data, store.blobs, config, fences)
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, config.build_concurrency), thread_name_prefix="callbox-build"
        )
        self._pending: set[Future[None]] = set()
        self._submitted: set[str] = set()  # build sids queued or running here
        self._lock = threading.Lock()
        self._closed = False

    # --- scheduling -----------------------------------------------------------------------

    def submit(self, build_sid: str) -> None:
        """Run the build in the background; it stays 'building' while it waits its turn."""
        with self._lock:
            if self._closed:
                raise RuntimeError("The builder is closed; it accepts no new builds.")
            if build_sid in self._submitted:
                return
            future = self._executor.submit(self.run, build_sid)
            self._pending.add(future)
            self._submitted.add(build_sid)
        future.add_done_callback(lambda done: self._forget(done, build_sid))

    def _forget(self, future: Future[None], build_sid: str) -> None:
        with self._lock:
            self._pending.discard(future)
            self._submitted.discard(build_sid)

    def claim_queued(self) -> list[str]:
        """Submit builds no node has taken (their node stopped before it claimed them, or
        its slots were busy), as many as this node has free slots; returns their sids."""
        with self._lock:
            free = self.config.build_concurrency - len(self._pending)
            if self._closed or free <= 0:
                return []
        with self.store.read() as conn:
            sids = list(
                conn.scalars(
                    sa.select(builds.c.sid)
                    .where(builds.c.status == "building", builds.c.node.is_(None))
                    .order_by(builds.c.date_created)
                    .limit(free)
                )
            )
        for sid in sids:
            self.submit(sid)
        return sids

    def fail_orphans(self) -> list[str]:
        """Fail the builds claimed by nodes that stopped (no heartbeat for the node timeout);
        returns their sids."""
        from callbox.cluster.nodes import alive

        running = sa.select(builds.c.sid, builds.c.node).where(
            builds.c.status == "building", builds.c.node.is_not(None)
        )
        with self.store.read() as conn:  # the usual answer, "none", without the writer lock
            living = alive(conn, self.store.now(conn), self.config.node_timeout) | {self.node}
            if all(row.node in living for row in conn.execute(running)):
                return []
        failed = []
        with self.store.begin() as conn:
            now = self.store.now(conn)
            living = alive(conn, now, self.config.node_timeout) | {self.node}
            for row in conn.execute(running).all():
                if row.node in living:
                    continue
                conn.execute(
                    builds.update()
                    .where(builds.c.sid == row.sid, builds.c.status == "building")
                    .values(
                        status="failed",
                        error=ORPHANED.format(node=row.node),
                        log=f"The build was interrupted: node {row.node} stopped.",
                        date_updated=now,
                    )
                )
                failed.append(row.sid)
        for sid in failed:
            logger.warning("Build %s failed: the node that ran it stopped.", sid)
        return failed

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted build has finished; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = set(self._pending)
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait(pending, timeout=remaining)

    def close(self) -> None:
        """Accept no more builds, kill running installs, and wait ``CLOSE_GRACE`` at most.

        A build whose install is killed fails ("The server stopped during the build"). Builds
        still queued are dropped, and a build still running after the grace is left behind: they
        stay 'building' and the next start's ``recover`` fails them, rather than holding up a
        shutdown with work nobody waits for.
        """
        with self._lock:
            self._closed = True
        self.folders.installs.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not self.wait_idle(CLOSE_GRACE):
            with self._lock:
                running = len(self._pending)
            logger.warning(
                "The server stopped with %s still running; the next start marks them failed.",
                count(running, "build"),
            )

    # --- one build ------------------------------------------------------------------------

    def run(self, build_sid: str) -> None:
        """Claim the build, build synchronously and record the outcome; user errors end as
        'failed', never raise. A build another node claimed first is left to it."""
        row = self._row(build_sid)
        if row is None or row.status != "building":
            state = "unknown" if row is None else row.status
            logger.warning("Build %s was not run: it is %s, not building.", build_sid, state)
            return
        if not self._claim(build_sid):
            logger.info("Build %s runs on another node.", build_sid)
            return
        started = time.monotonic()
        log: list[str] = []
        error: str | None = None
        recorded = False
        try:
            self._build(row, log)
        except BuildFailure as exc:
            error = str(exc)
        except Exception as exc:
            logger.exception("Build %s stopped on an internal error.", build_sid)
            error = _internal(exc)
        if error is None:
            log.append(f"Build completed in {time.monotonic() - started:.1f} s.")
            try:
                recorded = self._record(build_sid, "completed", None, log)
            except Exception as exc:
                logger.exception("Build %s was built but could not be recorded.", build_sid)
                error = _internal(exc)
                log.pop()
            if error is not None or not recorded:
                shutil.rmtree(self.build_dir(build_sid), ignore_errors=True)
        if error is not None:
            log.append("The build failed.")
            try:
                recorded = self._record(build_sid, "failed", error, log)
            except Exception:
                logger.exception("Build %s failed; the failure could not be recorded.", build_sid)
                return
        if not recorded:
            logger.info(
                "Build %s was deleted or failed elsewhere while it was building.", build_sid
            )
            return
        status = "failed" if error is not None else "completed"
        logger.info("Build %s finished: %s.", build_sid, status)
        if self.on_finished is not None:
            self.on_finished(str(row.runtime), status, time.monotonic() - started)

    def _build(self, row: Any, log: list[str]) -> None:
        runs_on = check_runtime(row.runtime)
        language = language_of(row.runtime)
        log.append(f"Runtime {row.runtime} on {runs_on}.")
        dependencies = parse_dependencies(row.dependencies, language)
        items = self._versions(row.sid)
        check_languages(items, row.runtime, language)
        folder = self.folders.new_folder(row.sid)
        try:
            self.folders.write(items, folder, check=True, language=language)
            functions = sum(item.kind == "function" for item in items)
            assets = len(items) - functions
            log.append(f"Materialised {count(functions, 'function')} and {count(assets, 'asset')}.")
            if functions and language == "node":
                log.append("Every function compiles; public and protected ones export `handler`.")
            elif functions:
                log.append("Every function compiles; public and protected ones define `handler`.")
            self.folders.install(dependencies, log, row.account_sid, language)
            self.folders.publish(folder, row.sid)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _claim(self, build_sid: str) -> bool:
        """Make the build this node's, if no node has it yet (one transaction, under the
        writer lock: of two nodes trying, one wins)."""
        with self.store.begin() as conn:
            result = conn.execute(
                builds.update()
                .where(
                    builds.c.sid == build_sid,
                    builds.c.status == "building",
                    builds.c.node.is_(None),
                )
                .values(node=self.node, claimed_at=self.store.now(conn))
            )
        return bool(result.rowcount)

    def _record(self, build_sid: str, status: str, error: str | None, log: list[str]) -> bool:
        """Store the outcome in one transaction; False if the build row is gone, or no longer
        this node's to finish (failed meanwhile as an orphan)."""
        with self.store.begin() as conn:
            result = conn.execute(
                builds.update()
                .where(
                    builds.c.sid == build_sid,
                    builds.c.status == "building",
                    builds.c.node == self.node,
                )
                .values(status=status, error=error, log="\n".join(log), date_updated=utcnow())
            )
        return bool(result.rowcount)

    # --- start, files and environments ----------------------------------------------------

    def recover(self) -> list[str]:
        """At server start: builds this node left 'building' when it stopped become 'failed';
        returns their sids. (Other nodes' builds are theirs; queued ones are claimed later.)

        Call it before the first ``submit``: it also removes every temporary build folder.
        """
        with self.store.begin() as conn:
            sids = list(
                conn.scalars(
                    sa.select(builds.c.sid).where(
                        builds.c.status == "building", builds.c.node == self.node
                    )
                )
            )
            if sids:
                conn.execute(
                    builds.update()
                    .where(builds.c.sid.in_(sids), builds.c.status == "building")
                    .values(
                        status="failed",
                        error=INTERRUPTED,
                        log="The build was interrupted by a server restart.",
                        date_updated=utcnow(),
                    )
                )
        for sid in sids:
            # A stop between the rename and the commit leaves a whole folder nobody will use.
            shutil.rmtree(self.build_dir(sid), ignore_errors=True)
        self.folders.remove_temporary()
        return sids

    def discard(self, build_sid: str) -> None:
        """Remove a deleted build's folder."""
        self.folders.discard(build_sid)

    def _install_fences(
        self, account_sid: str, target: Path, cache: Path, language: Language = "python"
    ) -> Fences | None:
        """An install runs as its account's uid: reads the system, the interpreter (uv asks
        it what it is) and the wheels folder, or node and npm; writes the target and the
        account's cache."""
        assert self.sandbox is not None
        self.sandbox.start()
        if self.sandbox.mode == "off":
            return None
        slot = slots.slot_of(self.store, account_sid)
        env = {"UV_CACHE_DIR": str(cache), "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
        readable = [*interpreter(), os.path.dirname(find_uv_bin())]
        if language == "node":
            node = node_executable()
            readable = [*interpreter()]  # the launcher is Python; npm runs on node
            if node is not None:
                readable += [node_prefix(node), npm.npm_root(npm.npm_command(node))]
            env = {"npm_config_cache": str(cache / "npm"), "npm_config_update_notifier": "false"}
            # How this machine trusts the registry's certificate (not a secret; no proxies).
            trust = {k: os.environ[k] for k in TRUST_VARIABLES if os.environ.get(k)}
            env.update(trust)
            readable += list(trust.values())  # the files must be there to be read
        elif self.config.find_links and not self.config.find_links.startswith(("http:", "https:")):
            readable.append(self.config.find_links)
        return self.sandbox.fences(
            slot=slot,
            group=f"a{slot}",
            readable=readable,
            writable=[str(target), str(cache)],
            memory_mb=self.config.install_memory_mb,
            tmp_mb=INSTALL_TMP_MB,
            home=str(cache) if self.sandbox.mode != "isolated" else "/tmp",
            env=env,
        )

    def build_dir(self, build_sid: str) -> Path:
        """Where a build's files are; ValueError if ``build_sid`` is not a build sid."""
        return self.folders.build_dir(build_sid)

    def site_packages(self, build_sid: str) -> list[str]:
        """The dependency folder the build's workers put on sys.path (Node.js: its
        node_modules folder); [] without dependencies."""
        row = self._row(build_sid)
        if row is None:
            raise LookupError(f"There is no build {build_sid}.")
        language = language_of(row.runtime)
        lines = parse_dependencies(row.dependencies, language).install
        return self.folders.site_packages(lines, row.account_sid, language)

    def ensure_materialised(self, build_sid: str) -> Path:
        """The folder of a completed build, written again from the blobs if it is missing.

        Its dependencies are installed too when their folder is missing (another node). Raises
        LookupError (no such build), ValueError (not completed) or BuildFailure (a blob is gone,
        an install failed).
        """
        final = self.build_dir(build_sid)
        if final.is_dir():
            return final
        row = self._row(build_sid)
        if row is None:
            raise LookupError(f"There is no build {build_sid}.")
        if row.status != "completed":
            raise ValueError(f"Build {build_sid} is {row.status}; it has no files to serve.")
        language = language_of(row.runtime)
        folder = self.folders.new_folder(build_sid)
        try:
            self.folders.write(self._versions(build_sid), folder, check=False, language=language)
            dependencies = parse_dependencies(row.dependencies, language)
            self.folders.install(dependencies, [], row.account_sid, language)
            readable_by_all(folder)
            try:
                folder.rename(final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(folder, ignore_errors=True)  # another caller wrote the same files
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        logger.info("Build %s was materialised again from the blob store.", build_sid)
        return final

    def _row(self, build_sid: str) -> Any:
        with self.store.read() as conn:
            return conn.execute(sa.select(builds).where(builds.c.sid == build_sid)).first()

    def _versions(self, build_sid: str) -> list[Version]:
        query = (
            sa.select(
                build_versions.c.version_sid,
                versions.c.kind,
                versions.c.path,
                versions.c.visibility,
                versions.c.content_sha256,
                versions.c.content_type,
            )
            .select_from(
                build_versions.outerjoin(versions, build_versions.c.version_sid == versions.c.sid)
            )
            .where(build_versions.c.build_sid == build_sid)
            .order_by(build_versions.c.position)
        )
        with self.store.read() as conn:
            return [Version(*row) for row in conn.execute(query)]
