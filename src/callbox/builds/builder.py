"""Run builds: write a build's versions to disk, check them, install its dependencies, record it.

On disk, under the store's data folder::

    builds/<sid>/functions/<path>.py     a completed build: one file per function version
    builds/<sid>/assets/<path>           ... and per asset version
    builds/.tmp-<sid>-<random>/          a build being written; renamed into place when complete
    envs/<sha256 of requirements>/       installed dependencies, shared by builds with one set

A build folder appears only by renaming a complete temporary one, so a folder under its final
name is always whole: a build never half-succeeds, on disk or in the database.
"""

from __future__ import annotations

import fcntl
import logging
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from callbox.builds.dependencies import DependencyError, install, requirements_hash
from callbox.builds.validate import (
    BuildFailure,
    Dependencies,
    check_function,
    check_layout,
    check_runtime,
    function_file,
    parse_dependencies,
)
from callbox.config import Config
from callbox.store.db import Store, utcnow
from callbox.store.sids import BUILD, is_sid
from callbox.store.tables import build_versions, builds, versions

logger = logging.getLogger(__name__)

INTERRUPTED = "The build was interrupted by a server restart; create it again."
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_ERROR_LINES, _MAX_ERROR_CHARS = 25, 3000


class _Version(NamedTuple):
    sid: str
    kind: str | None  # None: the build lists a version that no longer exists
    path: str
    visibility: str
    digest: str


class Builder:
    """Runs builds in the background, ``build_concurrency`` at a time, and answers for their files.

    ``on_finished(build_sid, status)`` is called after each build is recorded.
    """

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.on_finished: Callable[[str, str], None] | None = None
        self._root = store.data / "builds"
        self._envs = store.data / "envs"
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, config.build_concurrency), thread_name_prefix="callbox-build"
        )
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._closed = False

    # --- scheduling -----------------------------------------------------------------------

    def submit(self, build_sid: str) -> None:
        """Run the build in the background; it stays 'building' while it waits its turn."""
        with self._lock:
            if self._closed:
                raise RuntimeError("The builder is closed; it accepts no new builds.")
            future = self._executor.submit(self.run, build_sid)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

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
        """Accept no more builds and wait for the running ones.

        Builds still queued are dropped: they stay 'building' and the next start's ``recover``
        fails them, rather than holding up a shutdown with installs nobody waits for.
        """
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- one build ------------------------------------------------------------------------

    def run(self, build_sid: str) -> None:
        """Build synchronously and record the outcome; user errors end as 'failed', never raise."""
        row = self._row(build_sid)
        if row is None or row.status != "building":
            state = "unknown" if row is None else row.status
            logger.warning("Build %s was not run: it is %s, not building.", build_sid, state)
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
            error = f"Internal error while building: {type(exc).__name__}: {exc}"
        if error is None:
            log.append(f"Build completed in {time.monotonic() - started:.1f} s.")
            try:
                recorded = self._record(build_sid, "completed", None, log)
            except Exception as exc:
                logger.exception("Build %s was built but could not be recorded.", build_sid)
                error = f"Internal error while building: {type(exc).__name__}: {exc}"
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
            logger.info("Build %s was deleted while it was building.", build_sid)
            return
        status = "failed" if error is not None else "completed"
        logger.info("Build %s finished: %s.", build_sid, status)
        if self.on_finished is not None:
            try:
                self.on_finished(build_sid, status)
            except Exception:
                logger.exception("The on_finished callback failed for build %s.", build_sid)

    def _build(self, row: Any, log: list[str]) -> None:
        check_runtime(row.runtime)
        log.append(f"Runtime {row.runtime} on Python {sys.version.split()[0]}.")
        dependencies = parse_dependencies(row.dependencies)
        items = self._versions(row.sid)
        folder = self._new_folder(row.sid)
        try:
            self._write(items, folder, check=True)
            functions = sum(item.kind == "function" for item in items)
            assets = len(items) - functions
            log.append(
                f"Materialised {_count(functions, 'function')} and {_count(assets, 'asset')}."
            )
            if functions:
                log.append("Every function compiles; public and protected ones define `handler`.")
            self._install(dependencies, log)
            self._publish(folder, self.build_dir(row.sid))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _write(self, items: list[_Version], folder: Path, *, check: bool) -> None:
        """Write every version under ``folder``; with ``check``, validate functions first."""
        for kind in ("function", "asset"):
            check_layout(kind, [item.path for item in items if item.kind == kind])
        problems: list[str] = []
        for item in items:
            if item.kind is None:
                raise BuildFailure(f"Version {item.sid} of this build no longer exists.")
            try:
                content = self.store.blobs.get(item.digest)
            except FileNotFoundError:
                raise BuildFailure(
                    f"The content of {item.kind} {item.path} (version {item.sid}) is missing "
                    "from the blob store; upload the version again."
                ) from None
            if check and item.kind == "function":
                try:
                    check_function(item.path, item.visibility, content)
                except BuildFailure as exc:
                    problems.append(str(exc))
                    continue
            target = folder / function_file(item.kind, item.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if problems:
            raise BuildFailure("\n".join(problems))

    def _install(self, dependencies: Dependencies, log: list[str]) -> None:
        for entry in dependencies.provided:
            if entry.startswith("@"):
                log.append(f"{entry} is not installed: callbox is the runtime handler itself.")
            else:
                log.append(f"{entry} is not installed: the runtime provides {_twilio_version()}.")
        lines = dependencies.install
        if not lines:
            log.append("No dependencies to install.")
            return
        target = self._env_dir(lines)
        with self._env_lock(target):
            try:
                fresh = install("\n".join(lines) + "\n", target, self.config)
            except DependencyError as exc:
                # No stamp was written, so no build uses this folder: leave nothing half-made.
                shutil.rmtree(target, ignore_errors=True)
                raise BuildFailure(_trim(str(exc))) from None
        note = "" if fresh else " (cached)"
        log.append(f"Installed {_count(len(lines), 'dependency')}: {', '.join(lines)}{note}.")

    @contextmanager
    def _env_lock(self, target: Path) -> Iterator[None]:
        # One installer per requirement set. flock, not a threading.Lock: it also holds between
        # threads (each open() is its own lock holder) and between servers sharing the folder.
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{target.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _publish(self, folder: Path, final: Path) -> None:
        if final.exists():
            # Linux cannot swap two folders in one rename: move the old one aside first.
            aside = self._root / f".old-{final.name}-{secrets.token_hex(4)}"
            final.rename(aside)
            folder.rename(final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            folder.rename(final)

    def _record(self, build_sid: str, status: str, error: str | None, log: list[str]) -> bool:
        """Store the outcome in one transaction; False if the build row is gone."""
        with self.store.begin() as conn:
            result = conn.execute(
                builds.update()
                .where(builds.c.sid == build_sid, builds.c.status == "building")
                .values(status=status, error=error, log="\n".join(log), date_updated=utcnow())
            )
        return bool(result.rowcount)

    # --- start, files and environments ----------------------------------------------------

    def recover(self) -> list[str]:
        """At server start: builds left 'building' by a stop become 'failed'; returns their sids.

        Call it before the first ``submit``: it also removes every temporary build folder.
        """
        with self.store.begin() as conn:
            sids = list(conn.scalars(sa.select(builds.c.sid).where(builds.c.status == "building")))
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
        if self._root.is_dir():
            for entry in self._root.iterdir():
                if entry.name.startswith((".tmp-", ".old-")):
                    shutil.rmtree(entry, ignore_errors=True)
        return sids

    def discard(self, build_sid: str) -> None:
        """Remove a deleted build's folder (renamed aside first: no half folder under its name)."""
        folder = self.build_dir(build_sid)
        if not folder.is_dir():
            return
        aside = self._root / f".old-{build_sid}-{secrets.token_hex(4)}"
        try:
            folder.rename(aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    def build_dir(self, build_sid: str) -> Path:
        if not is_sid(build_sid, BUILD):
            raise ValueError(f"{build_sid!r} is not a build sid (ZB followed by 32 hex digits).")
        return self._root / build_sid

    def site_packages(self, build_sid: str) -> list[str]:
        """The dependency folder the build's workers put on sys.path; [] without dependencies."""
        row = self._row(build_sid)
        if row is None:
            raise LookupError(f"There is no build {build_sid}.")
        lines = parse_dependencies(row.dependencies).install
        return [str(self._env_dir(lines))] if lines else []

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
        folder = self._new_folder(build_sid)
        try:
            self._write(self._versions(build_sid), folder, check=False)
            self._install(parse_dependencies(row.dependencies), [])
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

    def _env_dir(self, lines: list[str]) -> Path:
        return self._envs / requirements_hash(lines)

    def _new_folder(self, build_sid: str) -> Path:
        self._root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".tmp-{build_sid}-", dir=self._root))

    def _row(self, build_sid: str) -> Any:
        with self.store.begin() as conn:
            return conn.execute(sa.select(builds).where(builds.c.sid == build_sid)).first()

    def _versions(self, build_sid: str) -> list[_Version]:
        query = (
            sa.select(
                build_versions.c.version_sid,
                versions.c.kind,
                versions.c.path,
                versions.c.visibility,
                versions.c.content_sha256,
            )
            .select_from(
                build_versions.outerjoin(versions, build_versions.c.version_sid == versions.c.sid)
            )
            .where(build_versions.c.build_sid == build_sid)
            .order_by(build_versions.c.position)
        )
        with self.store.begin() as conn:
            return [_Version(*row) for row in conn.execute(query)]


def _count(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def _trim(message: str) -> str:
    """uv's explanation, without colour codes or blank lines, short enough to read."""
    lines = [line.rstrip() for line in _ANSI.sub("", message).splitlines() if line.strip()]
    if len(lines) > _MAX_ERROR_LINES:
        more = len(lines) - _MAX_ERROR_LINES + 1
        lines = [*lines[: _MAX_ERROR_LINES - 1], f"... ({more} more lines)"]
    text = "\n".join(lines)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _twilio_version() -> str:
    try:
        return f"twilio {metadata.version('twilio')}"
    except metadata.PackageNotFoundError:
        return "twilio"
