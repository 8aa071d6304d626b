"""End-to-end fixtures: ``callbox start`` as a real process on a free port, driven over HTTP.

``servers`` (one test) and ``module_servers`` (one module) are factories. ``start(scenario)``
copies ``tests/functions/<scenario>`` to a temporary folder (tests may edit the copy), starts
``python -m callbox start`` in its own session with the given ``CALLBOX_*`` variables, waits
for "Listening on" and for a real HTTP answer, and returns a :class:`Server`. On teardown each
server gets SIGINT, as from Ctrl+C (then SIGTERM, then SIGKILL, which count as failures), and no
process of its session (zygote, workers) may outlive it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from postgres import Cluster

SCENARIOS = Path(__file__).resolve().parent.parent / "functions"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def callbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment as a user's shell would have it, plus ``extra``.

    Inherited callbox settings are dropped, and so is PYTHONDONTWRITEBYTECODE: users' workers
    write ``__pycache__`` next to their functions, and live reload must cope with that.
    """
    dropped = {"PORT", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_") and k not in dropped}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def default_signals() -> None:
    """``preexec_fn`` of every process a test starts: Ctrl+C (SIGINT) and SIGQUIT as a terminal
    gives them. A test run started as a background job (``scripts/test &``) inherits them
    ignored, and an ignored disposition survives exec: a command under test would then never
    see the Ctrl+C a test sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def session_members(session_id: int) -> list[int]:
    """Live (non-zombie) processes whose session is ``session_id``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses).
        fields = stat[stat.rfind(")") + 2 :].split()
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            members.append(int(entry))
    return members


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def command_line(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


class _Lines:
    """Lines of one pipe, read by a thread; waiters are woken on each new line."""

    def __init__(self, stream: object) -> None:
        self.items: list[str] = []
        self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.cond:
                self.items.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def snapshot(self) -> list[str]:
        with self.cond:
            return list(self.items)


class Server:
    """A running ``callbox start``: its URL, process, project copy and output so far."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        root: Path,
        port: int,
        cafile: Path | None = None,
    ) -> None:
        self.process = process
        self.root = root
        self.port = port
        self.cafile = cafile  # HTTPS, trusting this certificate, when given
        self.verify: ssl.SSLContext | bool = True
        if cafile is not None:
            self.verify = ssl.create_default_context(cafile=str(cafile))
        self.base_url = f"{'https' if cafile else 'http'}://127.0.0.1:{port}"
        self._out = _Lines(process.stdout)
        self._err = _Lines(process.stderr)
        self.client = httpx.Client(base_url=self.base_url, timeout=20.0, verify=self.verify)
        # Set by a test that knows a bug may kill the server: the exit status it tolerates.
        self.stopped_by_test = False

    # -- output ---------------------------------------------------------------------------
    def stdout_lines(self) -> list[str]:
        return self._out.snapshot()

    def stderr_lines(self) -> list[str]:
        return self._err.snapshot()

    def output(self) -> str:
        status = self.process.poll()
        state = "running" if status is None else f"exited with {status}"
        return (
            "\n".join(self.stdout_lines())
            + f"\n--- stderr (server {state}) ---\n"
            + "\n".join(self.stderr_lines())
        )

    def mark(self) -> int:
        """Position in stdout; pass it as ``since`` to look only at later lines."""
        return len(self.stdout_lines())

    def wait_for_line(self, pattern: str, *, since: int = 0, timeout: float = 10.0) -> str:
        """The first stdout line at or after ``since`` matching the regex ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._out.cond:
            while True:
                for line in self._out.items[since:]:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._out.closed:
                    raise AssertionError(
                        f"no stdout line matching {pattern!r} within {timeout} s; "
                        f"output:\n{self.output()}"
                    )
                self._out.cond.wait(remaining)

    def lines_matching(self, pattern: str, *, since: int = 0) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.stdout_lines()[since:] if regex.search(line)]

    def settle(self, since: int = 0) -> None:
        """Wait until every request answered so far has its request line on stdout.

        A marker request (a 404) is sent and its own line awaited: the server prints a
        request's function lines before its request line, in order.
        """
        marker = f"/__e2e_settle_{time.monotonic_ns()}"
        self.client.get(marker)
        self.wait_for_line(rf"^404 GET {re.escape(marker)} ", since=since)

    # -- processes ------------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """Live worker processes of this server: the children of its zygote (warm parent)."""
        members = session_members(self.process.pid)
        zygotes = {
            pid
            for pid in members
            if parent_pid(pid) == self.process.pid and b"callbox.worker.zygote" in command_line(pid)
        }
        return sorted(pid for pid in members if parent_pid(pid) in zygotes)

    # -- lifecycle ------------------------------------------------------------------------
    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        self.wait_for_line(r"Listening on", timeout=START_TIMEOUT)
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"callbox start exited early:\n{self.output()}")
            try:
                self.client.get("/__e2e_ready__", timeout=2.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"callbox start did not answer HTTP:\n{self.output()}"
                    ) from None
                time.sleep(0.02)

    def send_stop(self, sig: signal.Signals, *, whole_group: bool = False) -> int:
        """Stop the server on purpose (as a user would) and wait; returns its exit status."""
        self.stopped_by_test = True
        if whole_group:  # what Ctrl+C in a terminal does: every process of the group
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        status = self.process.wait(STOP_TIMEOUT)
        self._out.thread.join(5)
        self._err.thread.join(5)
        return status

    def stop(self) -> list[str]:
        """Stop the server with SIGINT (escalating if needed); returns what went wrong."""
        self.client.close()
        problems = []
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            if sig != signal.SIGINT:
                problems.append(f"server {self.process.pid} ignored SIGINT; sent {sig.name}")
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT if sig != signal.SIGKILL else None)
            except subprocess.TimeoutExpired:
                continue
        self._out.thread.join(5)
        self._err.thread.join(5)
        session = self.process.pid
        if not wait_until(lambda: not session_members(session), timeout=5.0):
            leftovers = session_members(session)
            for pid in leftovers:  # processes of the session we started: ours to clean up
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            problems.append(f"server {session} left processes {leftovers} running (killed)")
        return problems


class ServeServer(Server):
    """A running ``callbox serve``: the API at ``base_url``, environments by Host header."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        data: Path,
        port: int,
        account: tuple[str, str],
        cafile: Path | None = None,
    ) -> None:
        super().__init__(process, data, port, cafile)
        self.data = data
        self.account_sid, self.auth_token = account
        self.client.auth = account

    def sdk(self, username: str | None = None, password: str | None = None) -> Any:
        """The official twilio SDK pointed at this server (spec section 7.1, option A)."""
        from twilio.rest import Client

        client = Client(
            username or self.account_sid,
            password or self.auth_token,
            environment={"CALLBOX_E2E": "1"},  # non-empty: keeps TWILIO_EDGE/REGION out
        )
        client.serverless.base_url = self.base_url
        if self.cafile is not None:  # trust this certificate, not REQUESTS_CA_BUNDLE's
            client.http_client.session.trust_env = False
            client.http_client.session.verify = str(self.cafile)
        return client

    def environment(self, domain: str) -> httpx.Client:
        """A client for an environment's domain: connects here, sends ``Host: domain``."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Host": f"{domain}:{self.port}"},
            timeout=20.0,
            verify=self.verify,
        )


ACCOUNT = ("AC" + "e2e0" * 8, "e2e" + "0" * 29)


class ServerFactory:
    def __init__(self, tmp_root: Path, postgres: Cluster | None = None) -> None:
        self.tmp_root = tmp_root
        self.servers: list[Server] = []
        self._count = 0
        self._postgres = postgres
        self._databases: dict[Path, str] = {}  # data folder -> its PostgreSQL database

    def database_for(self, data: Path) -> str:
        """With CALLBOX_TEST_DATABASE=postgresql: the data folder's own database (the same on
        a restart); else "" (SQLite in the data folder)."""
        if self._postgres is None:
            return ""
        if data not in self._databases:
            self._databases[data] = self._postgres.database()
        return self._databases[data]

    def copy(self, scenario: str) -> Path:
        """A private copy of ``tests/functions/<scenario>``."""
        self._count += 1
        destination = self.tmp_root / f"{self._count}-{scenario}"
        shutil.copytree(
            SCENARIOS / scenario,
            destination,
            ignore=shutil.ignore_patterns("__pycache__", ".callbox"),
        )
        return destination

    def start(
        self,
        scenario: str | Path,
        *,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> Server:
        """Start ``callbox start`` on a copy of ``scenario`` (or on the folder given as a Path)."""
        root = scenario if isinstance(scenario, Path) else self.copy(scenario)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "callbox", "start", str(root), "--port", str(port), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=callbox_env(env),
            cwd=root,
            start_new_session=True,
            preexec_fn=default_signals,
        )
        server = Server(process, root, port)
        self.servers.append(server)
        server.wait_ready()
        return server

    def serve(
        self,
        data: Path | None = None,
        *,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
        cafile: Path | None = None,
    ) -> ServeServer:
        """Start ``callbox serve`` with a data folder (new unless given) and known credentials;
        with ``cafile`` (its certificate, trusted) it is spoken to over HTTPS."""
        if data is None:
            self._count += 1
            data = self.tmp_root / f"{self._count}-data"
        port = port or free_port()
        settings = {"CALLBOX_ACCOUNT_SID": ACCOUNT[0], "CALLBOX_AUTH_TOKEN": ACCOUNT[1]}
        database = self.database_for(data)
        if database and "CALLBOX_DATABASE_URL" not in (env or {}):
            settings["CALLBOX_DATABASE_URL"] = database
        process = subprocess.Popen(
            [sys.executable, "-m", "callbox", "serve", "--data", str(data), "--port", str(port)]
            + list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=callbox_env({**settings, **(env or {})}),
            cwd=self.tmp_root,
            start_new_session=True,
            preexec_fn=default_signals,
        )
        server = ServeServer(process, data, port, ACCOUNT, cafile)
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop_all(self) -> None:
        problems = []
        for server in self.servers:
            status = server.process.poll()
            unexpected = not server.stopped_by_test
            if status is not None and unexpected:
                problems.append(
                    f"server {server.process.pid} exited on its own with {status} before the "
                    f"end of its tests:\n{server.output()}"
                )
            problems.extend(server.stop())
        self.servers.clear()
        assert not problems, "; ".join(problems)


@pytest.fixture
def servers(tmp_path: Path, postgres: Cluster | None) -> Iterator[ServerFactory]:
    """Servers stopped at the end of the test."""
    factory = ServerFactory(tmp_path, postgres)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_servers(
    tmp_path_factory: pytest.TempPathFactory, postgres: Cluster | None
) -> Iterator[ServerFactory]:
    """Servers shared by the tests of one module, stopped after its last test."""
    factory = ServerFactory(tmp_path_factory.mktemp("e2e"), postgres)
    yield factory
    factory.stop_all()


def run_callbox(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run a ``callbox`` command that is expected to exit; a command still running after
    ``timeout`` is killed with its whole session and the test fails."""
    process = subprocess.Popen(
        [sys.executable, "-m", "callbox", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=callbox_env(env),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=default_signals,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [process.pid, *session_members(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"callbox {' '.join(args)} did not exit within {timeout} s:\n{stdout}\n{stderr}"
        ) from None
    if not wait_until(lambda: not session_members(process.pid), timeout=5.0):
        leftovers = session_members(process.pid)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"callbox {' '.join(args)} left processes {leftovers} running")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture
def callbox_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``callbox_cli(["init", "name"], env=..., cwd=...)`` runs the CLI to completion."""
    return run_callbox


@pytest.fixture
def e2e() -> object:
    """Helpers for test modules (conftest is not importable): polling and process checks."""

    class Helpers:
        wait_until = staticmethod(wait_until)
        pid_alive = staticmethod(pid_alive)
        free_port = staticmethod(free_port)
        session_members = staticmethod(session_members)

    return Helpers


# -- the toolkit commands (deploy, list, logs, env, ...) against a real `callbox serve` --------


class Toolkit:
    """Runs ``callbox`` commands as a user on this server would: in a project folder, with its
    own config home (profiles), the server's URL and, unless ``auth=False``, the owner's
    credentials as --username/--password.

    ``run`` is in-process (click's CliRunner; fast, for breadth); ``run_process`` is a real
    ``python -m callbox`` subprocess (for truth: exit codes, stdout/stderr, no traceback).
    """

    def __init__(self, server: ServeServer, home: Path) -> None:
        self.server = server
        self.home = home
        self.env = {"CALLBOX_CONFIG_DIR": str(home / "config"), "HOME": str(home)}

    def _args(self, args: Sequence[str], auth: bool) -> list[str]:
        extra = ["--url", self.server.base_url] if auth else []
        if auth:
            extra += ["-u", self.server.account_sid, "--password", self.server.auth_token]
        if not args or args[0] in {"login", "profiles", "new", "list-templates", "init", "start"}:
            return list(args)
        # Options go after the (sub)command's name: `env set ...`, `assets upload ...`.
        depth = 2 if args[0] in {"env", "assets"} and len(args) > 1 else 1
        return [*args[:depth], *extra, *args[depth:]]

    def run(
        self,
        *args: str,
        cwd: Path,
        auth: bool = True,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> Any:
        from click.testing import CliRunner

        from callbox.toolkit.cli import cli

        runner = CliRunner()
        previous = os.getcwd()
        os.chdir(cwd)
        try:
            return runner.invoke(
                cli, self._args(args, auth), env={**self.env, **(env or {})}, input=input
            )
        finally:
            os.chdir(previous)

    def run_process(
        self, *args: str, cwd: Path, auth: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_callbox(self._args(args, auth), env={**self.env, **(env or {})}, cwd=cwd)

    def deploy(self, root: Path, *args: str) -> dict[str, Any]:
        """``callbox deploy -o json`` in ``root``, which must succeed: its summary."""
        import json

        result = self.run("deploy", "-o", "json", *args, cwd=root)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    def tail(self, *args: str, cwd: Path, auth: bool = True) -> Tail:
        """A command that runs until stopped (``logs --tail``), as a real process; use it as a
        context manager (leaving the block stops it if the test did not)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "callbox", *self._args(args, auth)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=callbox_env(self.env),
            cwd=cwd,
            start_new_session=True,
            preexec_fn=default_signals,
        )
        return Tail(process)


class Tail:
    """A running ``callbox logs --tail``: its stdout ``lines`` so far (read by a thread);
    ``stop()`` is Ctrl+C and returns the exit status."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._out = _Lines(process.stdout)
        self._err = _Lines(process.stderr)

    @property
    def lines(self) -> list[str]:
        return self._out.snapshot()

    @property
    def stderr(self) -> str:
        return "\n".join(self._err.snapshot())

    def stop(self) -> int:
        """SIGINT to the process group, as Ctrl+C in a terminal; a command still running
        after 10 s is killed with its session and the test fails. No process may outlive it."""
        session = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session, signal.SIGINT)
        try:
            status = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for pid in [session, *session_members(session)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"{self.process.args} ignored Ctrl+C:\n{self.stderr}") from None
        finally:
            self._out.thread.join(5)
            self._err.thread.join(5)
        assert wait_until(lambda: not session_members(session), timeout=5.0), (
            f"{self.process.args} left processes {session_members(session)} running"
        )
        return status

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


@pytest.fixture(scope="module")
def toolkit(module_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Toolkit:
    """One `callbox serve` for the module's toolkit tests, and a runner of commands against it."""
    return Toolkit(module_servers.serve(), tmp_path_factory.mktemp("toolkit-home"))


@pytest.fixture
def toolkit_on(tmp_path: Path) -> Callable[[ServeServer], Toolkit]:
    """``toolkit_on(server)``: a runner of commands against a server the test started itself
    (``servers.serve(env=...)``), when the module's shared one will not do."""
    return lambda server: Toolkit(server, tmp_path / "toolkit-home")


@pytest.fixture(scope="module")
def unreachable() -> Iterator[str]:
    """A URL whose connections are refused: its port is bound but not listening, and held
    for the module, so no other process can take it meanwhile (a free port could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
