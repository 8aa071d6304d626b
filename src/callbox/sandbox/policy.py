"""The server's side of the sandbox: which mode this machine allows, this server's cgroups and
network filter, and the fences of each worker and install.

Modes, strongest first (``CALLBOX_SANDBOX``, default ``auto``: the strongest available):
  isolated  root: namespaces (mount, PID, IPC, UTS), a uid per service, cgroups, eBPF network
            filter, Landlock; see docs/security.md
  landlock  not root: Landlock (files, signals, abstract sockets), rlimits, environment
  off       environment allow list only; for benchmarks
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from callbox.sandbox import cgroups, landlock, linux, netfilter, seccomp
from callbox.sandbox.fences import Fences, Mode

log = logging.getLogger("callbox.sandbox")

MODES = ("auto", "isolated", "landlock", "off")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Passed through from the server's environment when set: language and time zone only.
_ENV_NAMES = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ")
_ADDRESS_CHECK_INTERVAL = 5.0  # seconds between looks at this machine's addresses


class SandboxUnavailable(Exception):
    """The configured mode needs what this machine or user lacks."""


@dataclass(frozen=True)
class Settings:
    """What the operator chose (from Config: CALLBOX_SANDBOX*, limits)."""

    mode: str = "auto"  # auto | isolated | landlock | off
    uid_base: int = 200_000
    uid_count: int = 100_000
    tmp_mb: int = 64
    memory_mb: int = 256
    pids: int = 256
    env_names: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = netfilter.DEFAULT_DENY
    install_memory_mb: int = 2048


def isolation_possible() -> str:
    """ "" when namespaces, uid changes and mounts work here; else the reason they do not."""
    if not linux.machine_supported():
        return "not Linux on x86_64 or arm64"
    if os.geteuid() != 0:
        return "the server does not run as root"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # try it in a throwaway child: unshare changes the caller for good
        os.close(read)
        try:
            linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWIPC)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            os.write(write, b"ok")
        except OSError as exc:
            os.write(write, str(exc).encode()[:200])
        os._exit(0)
    os.close(write)
    answer = os.read(read, 256).decode(errors="replace")
    os.close(read)
    os.waitpid(pid, 0)
    return "" if answer == "ok" else f"namespaces are refused ({answer})"


def choose_mode(wanted: str) -> tuple[Mode, str]:
    """(the mode to use, why a stronger one is not used: "" if none is stronger)."""
    if wanted not in MODES:
        raise SandboxUnavailable(
            f"CALLBOX_SANDBOX must be one of {', '.join(MODES)}; found {wanted!r}."
        )
    if wanted == "off":
        return "off", "turned off (CALLBOX_SANDBOX=off)"
    if wanted == "landlock":
        if not landlock.available():
            raise SandboxUnavailable("CALLBOX_SANDBOX=landlock: this kernel has no Landlock.")
        return "landlock", "CALLBOX_SANDBOX=landlock"
    reason = isolation_possible()
    if not reason:
        return "isolated", ""
    if wanted == "isolated":
        raise SandboxUnavailable(f"CALLBOX_SANDBOX=isolated is not possible: {reason}.")
    if landlock.available():
        return "landlock", reason
    return "off", f"{reason}, and this kernel has no Landlock"


def python_runtime() -> list[str]:
    """What a Python worker must read: the interpreter's installation and every folder on its
    import path (the server's virtual environment, an editable checkout)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return _outermost(os.path.realpath(p) for p in paths)


def interpreter() -> list[str]:
    """The Python installation alone (an install's uv asks it what it is): no import path."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    return _outermost(os.path.realpath(p) for p in paths)


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those inside another one of them."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if path != "/" and not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


class Sandbox:
    """One server's sandbox: call ``start`` once (it may create cgroups and attach the network
    filter), ``fences`` per worker or install, ``close`` at stop."""

    def __init__(
        self, settings: Settings, *, hidden: Iterable[Path] = (), own_ports: Iterable[int] = ()
    ) -> None:
        self.settings = settings
        self.hidden = tuple(str(p.resolve()) for p in hidden)
        self.own_ports = sorted(set(own_ports))
        self.mode: Mode = "off"
        self.weaker_because = ""
        self.tree = cgroups.Tree(0)
        self.network = ""  # how outbound connections are filtered ("": they are not)
        self._addresses: list[netfilter.Network] = []
        self._stop = threading.Event()
        self._runtime_dir = ""
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Choose the mode and set up what it needs (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.mode, self.weaker_because = choose_mode(self.settings.mode)
            if self.mode == "isolated":
                self._isolate()

    def _isolate(self) -> None:
        # The new roots are built on an empty folder of the server's own.
        self._runtime_dir = tempfile.mkdtemp(prefix="callbox-sandbox-")
        os.mkdir(os.path.join(self._runtime_dir, "root"))
        self.tree = cgroups.create(str(os.getpid()))
        if self.tree.net:
            try:
                self._filter()
                threading.Thread(
                    target=self._watch_addresses, name="callbox-netfilter", daemon=True
                ).start()
            except OSError as exc:
                self.network = ""
                log.warning("The network filter could not be attached: %s", exc)

    def _filter(self) -> None:
        assert self.tree.net is not None
        allow, deny = netfilter.policy(self.own_ports, self.settings.allow, self.settings.deny)
        netfilter.attach(self.tree.net, allow, deny)
        self._addresses = netfilter.local_networks()
        self.network = f"eBPF connect/sendmsg filter on cgroup v2 ({len(deny)} deny rules)"

    def _watch_addresses(self) -> None:
        """An address added to this machine later (a new interface) is denied within seconds."""
        while not self._stop.wait(_ADDRESS_CHECK_INTERVAL):
            if netfilter.local_networks() != self._addresses:
                try:
                    self._filter()
                except OSError as exc:
                    log.warning("The network filter could not be updated: %s", exc)

    def uid(self, slot: int) -> int:
        if not 0 <= slot < self.settings.uid_count:
            raise SandboxUnavailable(
                f"No user id is left for sandbox slot {slot}: CALLBOX_SANDBOX_UID_COUNT is "
                f"{self.settings.uid_count}; raise it."
            )
        return self.settings.uid_base + slot

    def fences(
        self,
        *,
        slot: int,
        group: str,
        readable: Iterable[str],
        writable: Iterable[str] = (),
        memory_mb: int | None = None,
        tmp_mb: int | None = None,
        home: str = "/tmp",
        env: dict[str, str] | None = None,
    ) -> Fences:
        """The fences of one worker (``group`` "s<slot>") or install ("a<slot>")."""
        s = self.settings
        isolated = self.mode == "isolated"
        return Fences(
            mode=self.mode,
            uid=self.uid(slot) if isolated else -1,
            group=group,
            readable=tuple(_outermost(os.path.realpath(p) for p in readable if p)),
            writable=tuple(os.path.realpath(p) for p in writable if p),
            hidden=self.hidden,
            tmp_mb=s.tmp_mb if tmp_mb is None else tmp_mb,
            memory_mb=s.memory_mb if memory_mb is None else memory_mb,
            pids=s.pids,
            env={**self.environment(home), **(env or {})},
            cgroups=self.tree,
            stage=os.path.join(self._runtime_dir, "root") if isolated else "",
        )

    def environment(self, home: str) -> dict[str, str]:
        """The whole environment sandboxed code sees: an allow list, never the server's own."""
        env = {"PATH": SYSTEM_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
        for name in (*_ENV_NAMES, *self.settings.env_names):
            value = os.environ.get(name)
            if value is not None and not name.upper().startswith(("CALLBOX_", "TWILIO_")):
                env[name] = value
        return env

    def close(self) -> None:
        self._stop.set()
        if self.tree.version:
            cgroups.destroy(self.tree)
        if self._runtime_dir:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)

    def report(self) -> list[tuple[str, bool, str]]:
        """(fence, enforced, how or why not), for the start-up table and --check-sandbox."""
        isolated = self.mode == "isolated"
        lock = landlock.available() and self.mode != "off"
        scopes = landlock.scopes_available() and self.mode != "off"
        why = self.weaker_because or "sandbox off"
        t = self.tree
        rows = [
            (
                "identity",
                isolated,
                f"a uid per service from {self.settings.uid_base}, no groups" if isolated else why,
            ),
            (
                "files",
                isolated or lock,
                "mount namespace with only system, runtime and build, read-only; Landlock"
                if isolated
                else "Landlock allow list"
                if lock
                else why,
            ),
            (
                "temporary folder quota",
                isolated,
                f"tmpfs of {self.settings.tmp_mb} MB" if isolated else why,
            ),
            (
                "processes",
                isolated,
                "PID namespace per worker; "
                + (f"pids cgroup v{t.version}, " if t.pids else "")
                + f"RLIMIT_NPROC, {self.settings.pids} per service"
                if isolated
                else why,
            ),
            (
                "memory",
                bool(t.memory),
                f"memory cgroup v{t.version}, {self.settings.memory_mb} MB per worker"
                if t.memory
                else "address-space limit only (RLIMIT_AS, looser)",
            ),
            (
                "network",
                bool(self.network),
                self.network
                or (why if not isolated else "no cgroup v2 hierarchy for the eBPF filter"),
            ),
            (
                "signals",
                isolated or scopes,
                "PID namespace, own uid" + (", Landlock scope" if scopes else "")
                if isolated
                else "Landlock scope"
                if scopes
                else why,
            ),
            (
                "abstract sockets",
                scopes,
                "Landlock scope" if scopes else "needs Landlock ABI 6 (Linux 6.12)",
            ),
            (
                "system calls",
                self.mode != "off" and seccomp.available(),
                "seccomp: no namespaces, mounts, ptrace, eBPF, keyrings, io_uring, modules"
                if self.mode != "off"
                else why,
            ),
            (
                "environment",
                True,
                "allow list: PATH, LANG, TZ, HOME, TMPDIR"
                + (", " + ", ".join(self.settings.env_names) if self.settings.env_names else ""),
            ),
        ]
        return rows


def format_report(rows: list[tuple[str, bool, str]]) -> str:
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(
        f"  {name.ljust(width)}  {'on ' if enforced else 'OFF'}  {how}"
        for name, enforced, how in rows
    )


def remove_scratch(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
