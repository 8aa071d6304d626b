"""A build's files on disk: its versions written to a folder, its dependencies installed.

Under the store's data folder::

    builds/<sid>/functions/<path>.py     a completed build: one file per function version
                                         (.js in a Node.js build)
    builds/<sid>/assets/<path>           ... and per asset version
    builds/.tmp-<sid>-<random>/          a build being written; renamed into place when complete
    envs/<account>/<sha256>/             an account's installed Python dependencies, shared by
                                         its builds with one set
    envs/<account>/node-<sha256>/        ... Node.js ones (package.json, node_modules/)
    cache/<account>/                     the account's uv cache; npm's in cache/<account>/npm

A build folder appears only by renaming a complete temporary one, so a folder under its final
name is always whole.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from callbox.builds import npm
from callbox.builds.dependencies import (
    DependencyError,
    Installs,
    InstallStopped,
    install,
    readable_by_all,
    requirements_hash,
)
from callbox.builds.javascript import check_functions
from callbox.builds.runtimes import Language, node_executable, version_language
from callbox.builds.validate import (
    BuildFailure,
    Dependencies,
    check_function,
    check_layout,
    function_file,
    twilio_version,
)
from callbox.config import Config
from callbox.sandbox.fences import Fences
from callbox.store.blobs import BlobStore
from callbox.store.sids import ACCOUNT, BUILD, is_sid

STOPPED = "The server stopped during the build; create it again."
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_ERROR_LINES, _MAX_ERROR_CHARS = 25, 3000


class Version(NamedTuple):
    sid: str
    kind: str | None  # None: the build lists a version that no longer exists
    path: str
    visibility: str
    digest: str
    content_type: str | None = None  # a function's language, when it says (runtimes.py)


# (account sid, target folder, cache folder, language) -> the fences an install runs in.
InstallFences = Callable[[str, Path, Path, Language], Fences | None]


def check_languages(items: list[Version], runtime: str, language: Language) -> None:
    """One language per build: a function version uploaded as the other language's source
    fails the build, naming every such file."""
    other = [
        item
        for item in items
        if item.kind == "function" and version_language(item.content_type) not in (None, language)
    ]
    if not other:
        return
    theirs = "Python" if language == "node" else "JavaScript"
    extension = ".py" if language == "node" else ".js"
    files = ", ".join(f"{item.path} ({item.content_type}, version {item.sid})" for item in other)
    runtimes = "a python3.x runtime" if language == "node" else "a node runtime"
    raise BuildFailure(
        f"This {runtime} build holds {theirs} functions ({extension}): {files}. A build runs one "
        f"language: build them separately with {runtimes}, or leave them out."
    )


class Folders:
    """The ``builds`` and ``envs`` folders under ``data``; each method leaves them whole."""

    def __init__(
        self,
        data: Path,
        blobs: BlobStore,
        config: Config,
        install_fences: InstallFences | None = None,
    ) -> None:
        self.blobs = blobs
        self.config = config
        self.installs = Installs()
        self.install_fences = install_fences
        self._root = data / "builds"
        self._envs = data / "envs"
        self._caches = data / "cache"

    def build_dir(self, build_sid: str) -> Path:
        if not is_sid(build_sid, BUILD):
            raise ValueError(f"{build_sid!r} is not a build sid (ZB followed by 32 hex digits).")
        return self._root / build_sid

    def env_dir(self, lines: list[str], account_sid: str, language: Language = "python") -> Path:
        """One environment per account and set: an account's install (its packages' build
        scripts) can never change what another account's builds import."""
        if not is_sid(account_sid, ACCOUNT):
            raise ValueError(f"{account_sid!r} is not an account sid.")
        prefix = "node-" if language == "node" else ""
        return self._envs / account_sid / (prefix + requirements_hash(lines))

    def site_packages(self, lines: list[str], account_sid: str, language: Language) -> list[str]:
        """The folders a build's workers find its packages in; [] without dependencies."""
        if not lines:
            return []
        target = self.env_dir(lines, account_sid, language)
        return [str(target / "node_modules" if language == "node" else target)]

    def new_folder(self, build_sid: str) -> Path:
        self._root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".tmp-{build_sid}-", dir=self._root))

    def write(
        self, items: list[Version], folder: Path, *, check: bool, language: Language = "python"
    ) -> None:
        """Write every version under ``folder``; with ``check``, validate functions (Python
        before writing, JavaScript once written, by node)."""
        for kind in ("function", "asset"):
            check_layout(kind, [item.path for item in items if item.kind == kind], language)
        problems: list[str] = []
        scripts: list[tuple[str, str, Path]] = []
        for item in items:
            if item.kind is None:
                raise BuildFailure(f"Version {item.sid} of this build no longer exists.")
            try:
                content = self.blobs.get(item.digest)
            except FileNotFoundError:
                raise BuildFailure(
                    f"The content of {item.kind} {item.path} (version {item.sid}) is missing "
                    "from the blob store; upload the version again."
                ) from None
            if check and item.kind == "function" and language == "python":
                try:
                    check_function(item.path, item.visibility, content)
                except BuildFailure as exc:
                    problems.append(str(exc))
                    continue
            target = folder / function_file(item.kind, item.path, language)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            if check and item.kind == "function" and language == "node":
                scripts.append((item.path, item.visibility, target))
        if scripts:
            node = node_executable()
            if node is None:
                raise BuildFailure("This server has no `node` on its PATH to check JavaScript.")
            problems.extend(check_functions(scripts, node))
        if problems:
            raise BuildFailure("\n".join(problems))

    def install(
        self,
        dependencies: Dependencies,
        log: list[str],
        account_sid: str,
        language: Language = "python",
    ) -> None:
        """Install into the account's environment of this requirement set, once per set."""
        provides = twilio_version()
        for entry in dependencies.provided:
            if entry.startswith("@"):
                log.append(f"{entry} is not installed: callbox is the runtime handler itself.")
            else:
                runtime = f"twilio {provides}" if provides else "twilio"
                log.append(f"{entry} is not installed: the runtime provides {runtime}.")
        lines = dependencies.install
        if not lines:
            log.append("No dependencies to install.")
            return
        target = self.env_dir(lines, account_sid, language)
        # The account's own cache (uv's; npm's inside it), never shared with another account.
        cache = self._caches / account_sid
        cache.mkdir(parents=True, exist_ok=True)
        fences = None
        if self.install_fences is not None:
            fences = self.install_fences(account_sid, target, cache, language)
            if fences is not None and fences.uid >= 0:
                os.chown(cache, fences.uid, fences.uid)
        with self._env_lock(target):
            try:
                if language == "node":
                    node = node_executable()
                    if node is None:
                        raise DependencyError("This server has no `node` on its PATH.")
                    fresh = npm.install(
                        dependencies,
                        target,
                        self.config,
                        node,
                        cache / "npm",
                        self.installs,
                        fences,
                    )
                else:
                    text = "\n".join(lines) + "\n"
                    fresh = install(text, target, self.config, self.installs, fences)
            except DependencyError as exc:
                # No stamp was written, so no build uses this folder: leave nothing half-made.
                shutil.rmtree(target, ignore_errors=True)
                if isinstance(exc, InstallStopped):
                    raise BuildFailure(STOPPED) from None
                raise BuildFailure(_trim(str(exc))) from None
        if self.installs.stopped:
            # Close did not wait for this build: it must not complete after the server stopped.
            raise BuildFailure(STOPPED)
        note = "" if fresh else " (cached)"
        log.append(f"Installed {count(len(lines), 'dependency')}: {', '.join(lines)}{note}.")

    @contextmanager
    def _env_lock(self, target: Path) -> Iterator[None]:
        # One installer per requirement set. flock, not a threading.Lock: it also holds between
        # threads (each open() is its own lock holder) and between servers sharing the folder.
        # Polled, so a stopping server does not wait for another server's install.
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{target.name}.lock", "w") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self.installs.stopped:
                        raise BuildFailure(STOPPED) from None
                    time.sleep(0.1)
            yield

    def publish(self, folder: Path, build_sid: str) -> None:
        """Rename a complete ``folder`` into place, replacing what is there under the name."""
        readable_by_all(folder)
        final = self.build_dir(build_sid)
        if final.exists():
            # Linux cannot swap two folders in one rename: move the old one aside first.
            aside = self._root / f".old-{final.name}-{secrets.token_hex(4)}"
            final.rename(aside)
            folder.rename(final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            folder.rename(final)

    def discard(self, build_sid: str) -> None:
        """Remove a build's folder (renamed aside first: no half folder under its name)."""
        folder = self.build_dir(build_sid)
        if not folder.is_dir():
            return
        aside = self._root / f".old-{build_sid}-{secrets.token_hex(4)}"
        try:
            folder.rename(aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    def remove_temporary(self) -> None:
        """Remove the folders of builds being written or replaced (none run at server start)."""
        if self._root.is_dir():
            for entry in self._root.iterdir():
                if entry.name.startswith((".tmp-", ".old-")):
                    shutil.rmtree(entry, ignore_errors=True)


def count(n: int, noun: str) -> str:
    """ "1 function", "3 functions", "2 dependencies"."""
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
