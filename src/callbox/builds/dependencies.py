"""Install a requirements set with uv into a target folder, skipped when nothing changed.

uv stays in the server's process group, so a signal to the whole group (Ctrl+C in a terminal,
a supervisor's SIGKILL) ends it and the build backends it runs together with the server: none
goes on writing into a shared environment folder. A timeout or a stopping server kills one
install's process tree instead; ``Installs`` keeps the running ones for that. And when the
server alone is killed (``kill -9`` of its pid, the OOM killer), the kernel kills the install
it started too (the parent-death signal, asked for before the program runs): in the sandbox
(isolated) that is the launcher, whose death takes the install's PID namespace with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from callbox.builds.validate import without_comment
from callbox.config import Config, child_environment
from callbox.sandbox.fences import Fences

_STAMP = ".requirements-sha256"
# Seconds one install may take. uv retries an index that never answers for minutes; a build
# should fail with a reason well before anyone gives up on it.
INSTALL_TIMEOUT = 600


class DependencyError(Exception):
    """uv could not install the requirements; the message carries uv's own explanation."""


class InstallStopped(DependencyError):
    """The install was killed because the server is stopping."""


class Installs:
    """The uv processes running now, so that a stopping server can kill them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self.stopped = False

    def run(self, command: list[str], env: dict[str, str]) -> tuple[int, str]:
        """Run ``command`` to its end: its exit status and its output (stderr, else stdout).

        Raises InstallStopped after ``stop`` and DependencyError after ``INSTALL_TIMEOUT``.
        """
        with self._lock:
            if self.stopped:
                raise InstallStopped("The server is stopping; nothing more is installed.")
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                preexec_fn=_die_with(os.getpid()),
            )
            self._running.add(process)
        try:
            out, err = process.communicate(timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill(process)
            process.communicate()
            raise DependencyError(
                f"Installing dependencies took longer than {INSTALL_TIMEOUT} s and was stopped; "
                "check that the package index answers, then build again."
            ) from None
        except BaseException:
            self._kill(process)
            process.wait()
            raise
        finally:
            with self._lock:
                self._running.discard(process)
        if self.stopped and process.returncode != 0:
            raise InstallStopped("The server stopped while dependencies were being installed.")
        detail = (err or out).strip()
        if process.returncode < 0 and not detail:
            detail = f"uv was ended by signal {-process.returncode}."
        return process.returncode, detail

    def stop(self) -> None:
        """Start no more installs and kill the running ones, with everything they started."""
        with self._lock:
            self.stopped = True
            for process in self._running:
                self._kill(process)

    @staticmethod
    def _kill(process: subprocess.Popen[str]) -> None:
        if process.returncode is None:  # once reaped, its pid may belong to someone else
            kill_tree(process.pid)


def _die_with(server: int) -> Callable[[], None] | None:
    """What the child runs before the program: SIGKILL when the thread that started it (a
    build thread of the server) ends, and at once if the server died before that was set."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = _prctl()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server:
            os._exit(1)

    return arm


_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int]:
    # Looked up in the server (dlopen in a forked child could wait on a lock held by a thread
    # that no longer exists there).
    return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process it started (uv's resolver, build backends).

    Each is stopped first, until no new one appears: a stopped process cannot start another,
    and its children are not handed to init while it lives, so none escapes the kill.
    """
    frozen: set[int] = set()
    while new := _tree(pid) - frozen:
        for member in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, signal.SIGSTOP)
        frozen |= new
    for member in frozen:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)


def _tree(root: int) -> set[int]:
    """``root`` and its descendants, from /proc (only ``root`` where there is no /proc)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue  # ended meanwhile
            # The fields after the command name, which may hold spaces and parentheses.
            parent = int(text[text.rfind(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = {root}, [root]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def requirement_lines(text: str) -> list[str]:
    """The requirements of ``text`` as pip reads them: comments and blank lines left out."""
    lines = (without_comment(line) for line in text.splitlines())
    return [line for line in lines if line]


def requirements_hash(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def install(
    text: str,
    target: Path,
    config: Config,
    installs: Installs | None = None,
    fences: Fences | None = None,
) -> bool:
    """Install the requirements in ``text`` into ``target``; False if it was already done.

    ``installs`` is where the uv process is kept while it runs, for whoever may stop it. With
    ``fences`` uv runs in the sandbox (package build scripts are user code): as the account's
    own uid, reading the system and the interpreter, writing only ``target`` and its cache.
    """
    lines = requirement_lines(text)
    digest = requirements_hash(lines)
    if not lines or is_installed(target, digest):
        return False
    from uv import find_uv_bin

    target.mkdir(parents=True, exist_ok=True)
    command = [find_uv_bin(), *command_args(config, target, lines)]
    env = {**child_environment(), "UV_NO_PROGRESS": "1"}
    if fences is not None:
        command, env = sandboxed(command, env, target, digest, fences)
    returncode, detail = (installs or Installs()).run(command, env)
    if returncode != 0:
        raise DependencyError(f"Installing {', '.join(lines)} failed:\n{detail}")
    readable_by_all(target)
    mark_installed(target, digest)
    return True


def is_installed(target: Path, digest: str) -> bool:
    """Whether ``target`` holds a complete install of the set whose hash is ``digest``."""
    stamp = target / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == digest


def mark_installed(target: Path, digest: str) -> None:
    """Written last: a folder without it is an install that did not finish."""
    (target / _STAMP).write_text(digest + "\n")


def sandboxed(
    command: list[str], env: dict[str, str], target: Path, digest: str, fences: Fences
) -> tuple[list[str], dict[str, str]]:
    """``command`` run by the sandbox launcher in ``fences`` (as the account's uid, which then
    owns ``target``): package build scripts are user code."""
    if fences.uid >= 0:
        os.chown(target, fences.uid, fences.uid)
    launch = [sys.executable, "-m", "callbox.sandbox", "run", f"install-{digest[:16]}", "--"]
    return [*launch, *command], {**env, "CALLBOX_SANDBOX_FENCES": json.dumps(fences.to_dict())}


def command_args(config: Config, target: Path, lines: list[str]) -> list[str]:
    """uv's arguments for installing ``lines`` into ``target``."""
    return [
        "pip",
        "install",
        "--quiet",
        "--compile-bytecode",  # workers cannot write __pycache__ into a read-only build
        "--python",
        sys.executable,
        "--target",
        str(target),
        *config.index_args(),
        *lines,
    ]


def readable_by_all(folder: Path) -> None:
    """Workers run as their service's own uid: they must read (never write) this folder. The
    data folder above it (0700) keeps other users of the machine out."""
    folder.chmod(0o755)
    for current, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(current, name), 0o755)
        for name in files:
            path = os.path.join(current, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, 0o755 if mode & 0o100 else 0o644)
