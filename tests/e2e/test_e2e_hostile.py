"""Hostile functions against a real ``callbox serve`` (and ``callbox start``): every way out of
the sandbox that issue 9 lists is tried, as an attacker would, and must fail; what a function
legitimately needs must keep working. See docs/security.md for the fences.

The functions are real files in ``tests/functions/hostile/functions/``; ``attack.py`` reports
what each attempt got and this module judges it. Needs root, like a real server (CI runs as
root); the last tests run the server as an unprivileged user and check what it reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploying import Deployed, deploy
from packages import make_sdist, make_wheel

import callbox
from postgres import wanted as postgres_wanted

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's fences need root")

HOSTILE = Path(__file__).resolve().parent.parent / "functions" / "hostile"
UID_BASE = 200_000
MEMORY_MB = 128
TMP_MB = 8
PIDS = 64
ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ"}
# A Node.js worker adds where its build's packages are (its own paths, nothing of the server's).
ALLOWED_ENV_NODE = ALLOWED_ENV | {"NODE_PATH"}
SERVER_ENV = {
    "CALLBOX_MEMORY_LIMIT_MB": str(MEMORY_MB),
    "CALLBOX_TMP_QUOTA_MB": str(TMP_MB),
    "CALLBOX_PIDS_LIMIT": str(PIDS),
    "CALLBOX_HANDLER_THREADS": "4",
    "CALLBOX_MAX_WORKERS": "1",
    "CALLBOX_EXECUTION_TIMEOUT": "10",
    "CALLBOX_NO_INDEX": "1",
    "PGPASSWORD": "db-secret",  # a server variable no function may see
}


def source(name: str) -> bytes:
    return (HOSTILE / "functions" / f"{name}.py").read_bytes()


FUNCTIONS = {
    path: (source(path.lstrip("/")), "public")
    for path in ("/attack", "/hold", "/die", "/works", "/evil-build")
}
NODE_FUNCTIONS = {"/attack": ((HOSTILE / "js" / "functions" / "attack.js").read_bytes(), "public")}
LANGUAGES = ["python", "node"]


def node_runtime() -> str:
    """The newest Node.js runtime this machine has (node18 .. node22)."""
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    return f"node{min(22, int(version.strip().lstrip('v').split('.')[0]))}"


NOTE = {"/note.txt": ((HOSTILE / "assets" / "note.private.txt").read_bytes(), "private")}


# -- this machine: listeners a function must not reach, a "remote" host it must --------------


def listener(host: str = "127.0.0.1", family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(16)
    return sock


@pytest.fixture(scope="module")
def local_services() -> Iterator[dict[str, int]]:
    """Stand-ins for a database and other local services: listening, never to be reached."""
    socks = {"loopback": listener(), "any": listener("0.0.0.0")}
    if socket.has_ipv6:
        with contextlib.suppress(OSError):  # no IPv6 loopback on this machine
            socks["loopback6"] = listener("::1", socket.AF_INET6)
    yield {name: sock.getsockname()[1] for name, sock in socks.items()}
    for sock in socks.values():
        sock.close()


@pytest.fixture(scope="module")
def remote_host() -> Iterator[dict[str, str]]:
    """Another machine on the network: a network namespace behind a veth pair, with an HTTP
    server. From the sandbox it is outside (reachable); the host's end of the link is this
    machine (not reachable)."""
    name, here, there = f"cbremote{os.getpid() % 10000}", "10.77.0.1", "10.77.0.2"
    link = f"cbv{os.getpid() % 10000}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    try:
        ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no network namespaces here: {exc}")
    server = None
    try:
        ip("link", "add", link, "type", "veth", "peer", "name", f"{link}p")
        ip("link", "set", f"{link}p", "netns", name)
        ip("addr", "add", f"{here}/24", "dev", link)
        ip("link", "set", link, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{there}/24", "dev", f"{link}p")
        ip("netns", "exec", name, "ip", "link", "set", f"{link}p", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-m", "http.server", "8099"]
            + ["--bind", there],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((there, 8099), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield {"remote": f"{there}:8099", "host_side": here}
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", link], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


# -- the server, its two accounts and their services --------------------------------------

EVIL_PYPROJECT = """[build-system]
requires = []
build-backend = "evilbackend"
backend-path = ["."]
"""

# The build backend of a package: its author's code, run by uv during the build. It tries to
# reach what it must not, and ships what it got inside the wheel for the test to read.
EVIL_BACKEND = r"""
import base64, errno, hashlib, json, os, socket, zipfile

def _try(action):
    try:
        action()
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, type(exc).__name__)

def _read(path):
    with open(path, "rb") as f:
        f.read(1)

def _write(path):
    with open(path, "ab") as f:
        f.write(b"poisoned\n")

def _connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=3).close()

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("targets.json") as f:
        targets = json.load(f)
    results = {"uid": os.getuid()}
    for name, path in targets["read"].items():
        results["read " + name] = _try(lambda p=path: _read(p))
    for name, path in targets["write"].items():
        results["write " + name] = _try(lambda p=path: _write(p))
    results["connect local service"] = _try(lambda: _connect(targets["port"]))
    module = ("RESULTS = " + repr(results) + "\n").encode()
    dist = "evilpkg-0.1.dist-info"
    files = {
        "evilpkg.py": module,
        dist + "/METADATA": b"Metadata-Version: 2.1\nName: evilpkg\nVersion: 0.1\n",
        dist + "/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: evil\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(path + ",sha256=" + digest + "," + str(len(data)))
    files[dist + "/RECORD"] = ("\n".join(record + [dist + "/RECORD,,"]) + "\n").encode()
    name = "evilpkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
"""


class Lab:
    """One hostile deployment per account, and what the attacks need to know."""

    def __init__(self, server, tmp: Path, local_services: dict[str, int]) -> None:
        self.server = server
        self.tmp = tmp
        self.local = local_services
        self.data = server.data
        self.log_file = tmp / "serve.log"  # where an operator might have sent the output
        self.alpha: Deployed
        self.beta: Deployed
        self.gamma: Deployed  # JavaScript
        self.victim: Deployed
        self.evil: Deployed
        self.victim_account = ""

    def domain_client(self, domain: str) -> httpx.Client:
        return self.server.environment(domain)

    def call(self, domain: str, path: str, **params: str) -> httpx.Response:
        with self.domain_client(domain) as client:
            return client.get(path, params=params)

    def domain(self, language: str) -> str:
        """The attacking service of ``language``."""
        return self.alpha["domain"] if language == "python" else self.gamma["domain"]

    def attack(self, domain: str, attack: str, **params: str) -> dict:
        response = self.call(domain, "/attack", attack=attack, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def lab(module_servers, tmp_path_factory, local_services, remote_host) -> Lab:
    tmp = tmp_path_factory.mktemp("hostile")
    links = tmp / "links"
    make_wheel(links, "tinydep", "0.1", "VALUE = 'tinydep works'\n")
    server = module_servers.serve(env={**SERVER_ENV, "CALLBOX_FIND_LINKS": str(links)})
    lab = Lab(server, tmp, local_services)
    lab.log_file.write_text(server.output())  # it holds the owner's token
    lab.log_file.chmod(0o644)
    tinydep = [{"name": "tinydep", "version": "0.1"}]
    lab.alpha = deploy(server, FUNCTIONS, NOTE, service="alpha", dependencies=tinydep)
    lab.beta = deploy(server, FUNCTIONS, NOTE, service="beta", dependencies=tinydep)
    lab.gamma = deploy(server, NODE_FUNCTIONS, service="gamma", runtime=node_runtime())
    # A second account (a tenant of its own) with the same dependency set.
    created = server.client.post(
        "/2010-04-01/Accounts.json", data={"FriendlyName": "victim"}
    ).json()
    victim = (created["sid"], created["auth_token"])
    lab.victim_account = victim[0]
    lab.victim = deploy(
        _as(server, victim), FUNCTIONS, NOTE, service="victim", dependencies=tinydep
    )
    make_sdist(links, "evilpkg", "0.1", _evil_files(lab))
    lab.evil = deploy(
        server,
        FUNCTIONS,
        NOTE,
        service="evil",
        dependencies=[{"name": "evilpkg", "version": "0.1"}],
    )
    return lab


class _As:
    """The same server, driven with another account's credentials."""

    def __init__(self, server, account: tuple[str, str]) -> None:
        self._server = server
        self._account = account
        self.client = httpx.Client(base_url=server.base_url, auth=account, timeout=20.0)

    def sdk(self, username=None, password=None):
        return self._server.sdk(username or self._account[0], password or self._account[1])

    def __getattr__(self, name):
        return getattr(self._server, name)


def _as(server, account: tuple[str, str]) -> _As:
    return _As(server, account)


def _evil_files(lab: Lab) -> dict[str, str]:
    victim_env = next((lab.data / "envs" / lab.victim_account).glob("*/tinydep.py"))
    site_packages = sysconfig.get_paths()["purelib"]
    targets = {
        "read": {
            "secret key": str(lab.data / "secret.key"),
            "database": str(lab.data / "callbox.db"),
        },
        "write": {
            "another account's environment": str(victim_env),
            "another account's uv cache": str(lab.data / "cache" / lab.victim_account / "x"),
            "the server's Python environment": str(Path(site_packages) / "evil.pth"),
            "the home folder": str(Path.home() / ".callbox-poisoned"),
        },
        "port": lab.local["loopback"],
    }
    return {
        "pyproject.toml": EVIL_PYPROJECT,
        "evilbackend.py": EVIL_BACKEND,
        "targets.json": json.dumps(targets),
    }


def processes_of(uid: int) -> list[int]:
    """Live processes running as ``uid``, seen from the host."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue
        if int(fields["Uid"].split()[0]) == uid:
            found.append(int(entry))
    return found


def zygote_of(server) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            if parent == server.process.pid and b"callbox.worker.zygote" in cmdline:
                return int(entry)
    raise AssertionError("the server has no zygote")


# -- identity -------------------------------------------------------------------------------


def test_workers_run_as_an_unprivileged_uid_of_their_own_service(lab: Lab) -> None:
    alpha = lab.attack(lab.alpha["domain"], "identity")
    beta = lab.attack(lab.beta["domain"], "identity")
    gamma = lab.attack(lab.gamma["domain"], "identity")  # a Node.js worker: the same fences
    for seen in (alpha, beta, gamma):
        assert seen["uid"] == seen["euid"] == seen["gid"] >= UID_BASE
        # No supplementary group (Node's getgroups() always adds the effective gid).
        assert set(seen["groups"]) <= {seen["gid"]}
    assert len({alpha["uid"], beta["uid"], gamma["uid"]}) == 3  # services never share one
    assert os.getuid() == 0 and alpha["uid"] != os.getuid()


# -- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_files_of_the_server_the_machine_and_other_tenants_are_out_of_reach(
    lab: Lab, language: str
) -> None:
    callbox_dir = Path(callbox.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"])
    other_build = lab.data / "builds" / lab.beta["build_sid"] / "functions" / "attack.py"
    home = Path.home()
    reads = {
        "secret key": lab.data / "secret.key",
        "database": lab.data / "callbox.db",
        "another service's build": other_build,
        "shadow": Path("/etc/shadow"),
        "the server's log": lab.log_file,
        "the server's environment": Path(f"/proc/{lab.server.process.pid}/environ"),
        "a home folder": home / ".bashrc",
    }
    writes = {
        "server python .pth": site_packages / "callbox-pwned.pth",
        "callbox package": callbox_dir / "pwned.py",
        "home": home / "callbox-pwned",
        "cache": home / ".cache" / "callbox-pwned",
        "var tmp": Path("/var/tmp/callbox-pwned"),
        "database": lab.data / "callbox.db",
        "secret key": lab.data / "secret.key",
    }
    before = {path: path.stat().st_size for path in writes.values() if path.exists()}
    seen = lab.attack(
        lab.domain(language),
        "files",
        read=json.dumps({k: str(v) for k, v in reads.items()}),
        write=json.dumps({k: str(v) for k, v in writes.items()}),
    )
    for name in reads:
        assert seen[f"read {name}"] in ("ENOENT", "EACCES", "EPERM"), (name, seen)
    for name in writes:
        assert seen[f"write {name}"] in ("ENOENT", "EACCES", "EPERM", "EROFS"), (name, seen)
    for path in writes.values():  # and nothing changed on the machine
        assert path.stat().st_size == before[path] if path in before else not path.exists()
    assert seen["proc"] == [1]  # its own PID namespace: no other process to look at


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_temporary_folder_has_a_quota(lab: Lab, language: str) -> None:
    seen = lab.attack(lab.domain(language), "quota")
    assert seen["outcome"] == "ENOSPC"
    assert TMP_MB - 2 <= seen["written_mb"] <= TMP_MB


# -- what must still work --------------------------------------------------------------------


def test_a_function_still_does_what_functions_do(lab: Lab) -> None:
    response = lab.call(lab.alpha["domain"], "/works")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tmp": "back",
        "tmpdir": "/tmp",
        "private_asset": "a private note\n",
        "other_function": "held",  # another function of callbox's, through its own port
        "dependency": "tinydep works",
    }


# -- processes -------------------------------------------------------------------------------


def test_a_fork_bomb_is_refused_and_the_server_keeps_serving(lab: Lab) -> None:
    seen = lab.attack(lab.beta["domain"], "forkbomb", count="500")
    assert seen["outcome"] == "EAGAIN"
    assert 0 < seen["started"] < PIDS
    assert lab.call(lab.alpha["domain"], "/works").status_code == 200  # other services serve
    assert lab.call(lab.beta["domain"], "/works").status_code == 200  # and so does its own


def test_a_fork_bomb_from_javascript_is_refused_too(lab: Lab) -> None:
    seen = lab.attack(lab.gamma["domain"], "forkbomb", count="500")
    assert seen["outcome"] == "EAGAIN"
    assert 0 < seen["started"] < PIDS
    assert lab.attack(lab.gamma["domain"], "identity")["uid"] >= UID_BASE  # it still serves


def test_no_process_an_invocation_started_is_left_once_its_worker_is_idle(lab: Lab) -> None:
    uid = lab.attack(lab.beta["domain"], "identity")["uid"]
    assert lab.attack(lab.beta["domain"], "daemon") == {"started": True}
    deadline = time.monotonic() + 3
    while len(processes_of(uid)) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(processes_of(uid)) == 1, processes_of(uid)  # the worker alone


def test_a_dead_worker_is_noticed_at_once_even_if_its_child_holds_the_socket(lab: Lab) -> None:
    uid = lab.attack(lab.beta["domain"], "identity")["uid"]
    held: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: held.append(lab.call(lab.beta["domain"], "/hold", seconds="8"))
    )
    thread.start()
    time.sleep(0.5)  # the hold is in flight on the service's one worker
    began = time.monotonic()
    died = lab.call(lab.beta["domain"], "/die")
    thread.join(10)
    assert died.status_code == 500 and "exited unexpectedly" in died.json()["message"]
    assert held[0].status_code == 500, held[0].text
    assert time.monotonic() - began < 3, "the in-flight request waited for the deadline"
    deadline = time.monotonic() + 3
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_of(uid) == []  # the child that held the socket died with the worker
    assert lab.call(lab.beta["domain"], "/works").status_code == 200  # a new worker serves


# -- memory ----------------------------------------------------------------------------------


# What a function may allocate on top of its runtime: a Python worker shares the warm parent's
# pages; a Node.js worker is a process of its own whose runtime and twilio library (about
# 50 MB) count within the limit too.
FITS = {"python": MEMORY_MB * 3 // 4, "node": MEMORY_MB // 2}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_memory_limit_holds_within_ten_percent(lab: Lab, language: str) -> None:
    domain = lab.domain(language)
    fits = lab.call(domain, "/attack", attack="memory", mb=str(FITS[language]))
    assert fits.status_code == 200, fits.text
    over = lab.call(domain, "/attack", attack="memory", mb=str(MEMORY_MB * 11 // 10))
    assert over.status_code == 500
    assert f"over its {MEMORY_MB} MB limit" in over.json()["message"]
    assert lab.attack(domain, "identity")["uid"] >= UID_BASE  # a new worker serves


# -- network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_local_ports_are_unreachable_but_the_world_and_callbox_are(
    lab: Lab, remote_host: dict[str, str], language: str
) -> None:
    targets = {
        f"127.0.0.1:{lab.server.port}": "connected",  # callbox's own HTTP port
        remote_host["remote"]: "connected",  # another machine
        f"127.0.0.1:{lab.local['loopback']}": "EPERM",  # a database on loopback
        f"127.0.0.2:{lab.local['any']}": "EPERM",
        f"{remote_host['host_side']}:{lab.local['any']}": "EPERM",  # this machine's address
        "169.254.169.254:80": "EPERM",  # a cloud's metadata service
    }
    if "loopback6" in lab.local:
        targets[f"[::1]:{lab.local['loopback6']}"] = "EPERM"
        targets[f"[::ffff:127.0.0.1]:{lab.local['loopback']}"] = "EPERM"
    seen = lab.attack(lab.domain(language), "network", targets=json.dumps(list(targets)))
    assert seen == targets


def test_an_address_this_machine_gains_later_is_denied_within_seconds(lab: Lab) -> None:
    address = "10.78.0.1"
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    try:
        target = f"{address}:{lab.local['any']}"
        deadline = time.monotonic() + 10  # the filter looks at the addresses every 5 s
        seen = {}
        while time.monotonic() < deadline:
            seen = lab.attack(lab.alpha["domain"], "network", targets=json.dumps([target]))
            if seen[target] == "EPERM":
                break
            time.sleep(0.5)
        assert seen == {target: "EPERM"}
    finally:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False)


def test_system_calls_a_function_never_needs_are_refused(lab: Lab) -> None:
    seen = lab.attack(lab.alpha["domain"], "syscalls")
    assert seen == {
        "user namespace": "EPERM",
        "mount": "EPERM",
        "ptrace": "EPERM",
        "keyring": "EPERM",
        "thread": "started",
    }


# -- environment and signals -----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_function_code_sees_only_the_allowed_variables(lab: Lab, language: str) -> None:
    env = lab.attack(lab.domain(language), "environment")
    allowed = ALLOWED_ENV if language == "python" else ALLOWED_ENV_NODE
    assert set(env) <= allowed, set(env) - allowed
    assert env["HOME"] == env["TMPDIR"] == "/tmp"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_cannot_write_lines_that_pass_for_the_server_s(lab: Lab, language: str, e2e) -> None:
    forged = f'127.0.0.1 - - [05/Dec/2026:12:00:00 +0000] "GET /admin-{language} HTTP/1.1" 200 1'
    assert lab.attack(lab.domain(language), "forge", line=forged + "\x1b[2J") == {"written": True}
    ours = f"worker output: {forged}\\x1b[2J"  # marked, and the terminal escape shown, not run
    assert e2e.wait_until(lambda: sum(ours in ln for ln in lab.server.stderr_lines()) == 2, 5)
    lines = lab.server.stdout_lines() + lab.server.stderr_lines()
    assert not [line for line in lines if line.startswith(forged)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_cannot_signal_the_server_the_warm_parent_or_another_service(
    lab: Lab, language: str
) -> None:
    beta_uid = lab.attack(lab.beta["domain"], "identity")["uid"]
    beta_worker = processes_of(beta_uid)
    assert beta_worker, "beta's worker is running"
    pids = {
        "server": lab.server.process.pid,
        "zygote": zygote_of(lab.server),
        "another service's worker": beta_worker[0],
    }
    seen = lab.attack(lab.domain(language), "signals", pids=json.dumps(pids))
    for name in pids:
        assert seen[name] in ("ESRCH", "EPERM"), (name, seen)
    assert lab.server.process.poll() is None


# -- builds ----------------------------------------------------------------------------------


def test_a_packages_build_script_is_sandboxed_and_cannot_poison_another_account(lab: Lab) -> None:
    response = lab.call(lab.evil["domain"], "/evil-build")
    assert response.status_code == 200, response.text
    seen = response.json()
    account_uid = seen.pop("uid")
    assert account_uid >= UID_BASE
    assert seen == {
        "read secret key": "ENOENT",
        "read database": "ENOENT",
        "write another account's environment": "ENOENT",
        "write another account's uv cache": "ENOENT",
        "write the server's Python environment": "EROFS",
        "write the home folder": seen["write the home folder"],
        "connect local service": "EPERM",
    }
    assert seen["write the home folder"] in ("ENOENT", "EROFS")
    victim = lab.call(lab.victim["domain"], "/works")
    assert victim.status_code == 200 and victim.json()["dependency"] == "tinydep works"
    assert not (Path.home() / ".callbox-poisoned").exists()


# -- after the attacks -----------------------------------------------------------------------


def test_after_the_attacks_the_server_is_whole_and_restarts_clean(lab: Lab, module_servers) -> None:
    assert lab.call(lab.alpha["domain"], "/works").status_code == 200
    if not postgres_wanted():  # (PostgreSQL keeps its own pages whole)
        with sqlite3.connect(lab.data / "callbox.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    old_pid = lab.server.process.pid
    lab.server.send_stop(signal.SIGINT)
    leftovers = [p for p in Path("/sys/fs/cgroup").rglob(f"callbox/{old_pid}") if p.exists()]
    assert leftovers == []  # its cgroups went with it
    again = module_servers.serve(
        data=lab.data, env={**SERVER_ENV, "CALLBOX_FIND_LINKS": str(lab.tmp / "links")}
    )
    with again.environment(lab.alpha["domain"]) as client:
        assert client.get("/works").status_code == 200


# -- callbox start ---------------------------------------------------------------------------


def test_callbox_start_fences_the_local_project_too(servers, local_services) -> None:
    server = servers.start("hostile", env=SERVER_ENV)
    identity = server.client.get("/attack", params={"attack": "identity"}).json()
    assert identity["uid"] == UID_BASE and identity["groups"] == []  # slot 0: callbox start
    files = server.client.get(
        "/attack",
        params={
            "attack": "files",
            "read": json.dumps({"shadow": "/etc/shadow"}),
            "write": json.dumps(
                {"python": str(Path(sysconfig.get_paths()["purelib"]) / "callbox-pwned.pth")}
            ),
        },
    ).json()
    assert files["read shadow"] == "ENOENT" and files["write python"] == "EROFS"
    env = server.client.get("/attack", params={"attack": "environment"}).json()
    assert set(env) <= ALLOWED_ENV
    port = local_services["loopback"]
    network = server.client.get(
        "/attack", params={"attack": "network", "targets": json.dumps([f"127.0.0.1:{port}"])}
    ).json()
    assert network == {f"127.0.0.1:{port}": "EPERM"}
    bomb = server.client.get("/attack", params={"attack": "forkbomb", "count": "500"}).json()
    assert bomb["outcome"] == "EAGAIN"


# -- not root --------------------------------------------------------------------------------

NOBODY = 65534


def unprivileged(args: list[str], tmp: Path, **popen) -> subprocess.Popen[str]:
    """``callbox`` run as nobody, with the system's Python and this checkout's packages (the
    test's own interpreter may live in /root, which nobody cannot enter)."""
    system_python = "/usr/bin/python3"
    if not os.path.exists(system_python):
        pytest.skip("no system Python to run the server as another user")
    src = Path(callbox.__file__).resolve().parent.parent
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp),
        "PYTHONPATH": f"{src}:{sysconfig.get_paths()['purelib']}",
        "PYTHONUNBUFFERED": "1",
        "CALLBOX_ACCOUNT_SID": "AC" + "ab" * 16,
        "CALLBOX_AUTH_TOKEN": "cd" * 16,
    }
    return subprocess.Popen(
        [system_python, "-m", "callbox", *args],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env=env,
        cwd=tmp,
        text=True,
        **popen,
    )


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder nobody can use (pytest's own are inside a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="callbox-nobody-"))
    os.chown(folder, NOBODY, NOBODY)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_check_sandbox_reports_every_fence(tmp_path, shared_tmp) -> None:
    root = subprocess.run(
        [sys.executable, "-m", "callbox", "serve", "--check-sandbox", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert root.returncode == 0, root.stderr
    assert "Sandbox: isolated" in root.stdout
    assert " OFF " not in root.stdout
    nobody = unprivileged(
        ["serve", "--check-sandbox", "--data", str(shared_tmp / "data")],
        shared_tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = nobody.communicate(timeout=60)
    assert nobody.returncode == 0, err
    assert "Sandbox: landlock (the server does not run as root)" in out
    rows = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")}
    for fence in ("identity", "temporary folder quota", "processes", "network", "memory"):
        assert " OFF " in rows[fence] or "RLIMIT_AS" in rows[fence], (fence, out)
    assert " on " in rows["files"] and " on " in rows["environment"]
    assert "Warning: not enforced here" in err


def test_a_server_that_is_not_root_still_keeps_functions_out_of_its_data(shared_tmp) -> None:
    tmp_path = shared_tmp
    data = tmp_path / "data"
    port = _free_port()
    process = unprivileged(
        ["serve", "--data", str(data), "--port", str(port)],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Listening on"):
                break
        assert any("Sandbox: landlock" in line for line in lines), "".join(lines)
        server = _Plain(data, port, ("AC" + "ab" * 16, "cd" * 16))
        deployed = deploy(server, {"/attack": FUNCTIONS["/attack"]}, service="plain")
        with server.environment(deployed["domain"]) as client:
            seen = client.get(
                "/attack",
                params={
                    "attack": "files",
                    "read": json.dumps({"secret key": str(data / "secret.key")}),
                    "write": json.dumps({"database": str(data / "callbox.db")}),
                },
            ).json()
            env = client.get("/attack", params={"attack": "environment"}).json()
        assert seen.get("read secret key") == "EACCES", seen
        assert seen["write database"] == "EACCES"
        assert set(env) <= ALLOWED_ENV and "CALLBOX_AUTH_TOKEN" not in env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Plain:
    """Enough of the e2e server interface for ``deploy`` against a server started here."""

    def __init__(self, data: Path, port: int, account: tuple[str, str]) -> None:
        self.data = data
        self.port = port
        self.account_sid, self.auth_token = account
        self.base_url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base_url, auth=account, timeout=20.0)

    def sdk(self, username=None, password=None):
        from twilio.rest import Client

        client = Client(
            username or self.account_sid,
            password or self.auth_token,
            environment={"CALLBOX_E2E": "1"},
        )
        client.serverless.base_url = self.base_url
        return client

    def environment(self, domain: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Host": f"{domain}:{self.port}"}, timeout=20.0
        )
