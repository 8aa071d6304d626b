#!/usr/bin/env python3
"""callbox benchmark of the deployed path (``callbox serve``): prints figures, never asserts them.

One run starts a bare uvicorn app, ``callbox serve`` on a throw-away data folder (and, for
reference, ``callbox start`` on the same project), deploys through the HTTP API, and prints:

1. requests/s at 50 connections of a deployed hello function (plain ``def`` and ``async def``)
   against bare uvicorn, with the CPU each process spends per request;
2. p50 / p99 latency at 1 connection;
3. memory of the server, its zygote and its workers after the load;
4. the first request after a deployment of a new build (a worker is forked for it);
5. build creation -> serving for 10 functions + 10 assets, without dependencies and with a
   dependency set an earlier build installed (a tiny wheel made here, installed offline);
6. a summary table with the targets of the issue next to each figure.

The helpers (processes, /proc, load generators) are ``bench/run.py``'s. Every process started
here is killed at the end (process groups).

    .venv/bin/python bench/deployed.py            # about 90 s
    .venv/bin/python bench/deployed.py --quick    # about 40 s
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as base  # noqa: E402  (bench/run.py: processes, /proc, load generators)

# Targets of the issue "Extend bench/ to the deployed path".
TARGET_RATIO = 0.60
TARGET_FIRST_MS = 50.0
TARGET_SERVING_S = 1.5
TARGET_CACHED_S = 1.0

FUNCTIONS = 10
ASSETS = 10
POLL_S = 0.01  # how often the build status is asked for
CONCURRENCY = 2000  # CALLBOX_CONCURRENCY_LIMIT: the default (30) is below 50 connections
DEPENDENCY = "benchdep"
DEPENDENCY_VALUE = "from the benchdep wheel"


@dataclass
class Durations:
    warmup: int
    rps: int
    latency: int
    colds: int
    repeats: int


FULL = Durations(warmup=2, rps=10, latency=5, colds=8, repeats=5)
QUICK = Durations(warmup=1, rps=3, latency=2, colds=3, repeats=3)

say = base.say


# --------------------------------------------------------------------------------------------
# Talking to callbox serve
# --------------------------------------------------------------------------------------------


def make_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, written by hand: benchdep.py plus its dist-info."""
    files = {
        f"{DEPENDENCY}.py": f"VALUE = {DEPENDENCY_VALUE!r}\n".encode(),
        f"{DEPENDENCY}-0.1.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {DEPENDENCY}\nVersion: 0.1\n".encode()
        ),
        f"{DEPENDENCY}-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: callbox-bench\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{DEPENDENCY}-0.1.dist-info/RECORD,,")
    files[f"{DEPENDENCY}-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{DEPENDENCY}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


class Service:
    """One service with one environment (no suffix), driven step by step through the API."""

    def __init__(self, client: Any, port: int, name: str) -> None:
        self.client = client
        self.port = port
        self.sid = client.create_service(name)["sid"]
        env = client.create_environment(self.sid, "")  # production
        self.environment_sid = env["sid"]
        self.host = f"{env['domain_name']}:{port}"
        self._resources: dict[tuple[str, str], str] = {}

    def upload(self, kind: str, path: str, content: bytes, content_type: str) -> str:
        """A new version of the function or asset at ``path``; returns the version SID."""
        sid = self._resources.get((kind, path))
        if sid is None:
            sid = self.client.create_resource(self.sid, kind, path)["sid"]
            self._resources[(kind, path)] = sid
        version = self.client.upload_version(
            self.sid,
            kind,
            sid,
            path=path,
            visibility="public",
            content=content,
            content_type=content_type,
        )
        return str(version["sid"])

    def create_build(self, functions: list[str], assets: list[str], deps: list[Any]) -> str:
        build = self.client.create_build(
            self.sid,
            function_versions=functions,
            asset_versions=assets,
            dependencies=json.dumps(deps) if deps else None,
            runtime="python3.11",
        )
        return str(build["sid"])

    def wait_built(self, build_sid: str, timeout: float = 120.0) -> int:
        """Poll the status every POLL_S until completed; returns the number of polls."""
        deadline = time.perf_counter() + timeout
        polls = 0
        while True:
            polls += 1
            status = self.client.build_status(self.sid, build_sid)
            if status == "completed":
                return polls
            if status == "failed":
                build = self.client.build(self.sid, build_sid)
                raise RuntimeError(f"build {build_sid} failed: {build.get('error')}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"build {build_sid} still {status} after {timeout:.0f} s")
            time.sleep(POLL_S)

    def deploy(self, build_sid: str) -> None:
        self.client.activate(self.sid, self.environment_sid, build_sid)

    def first_answer(self, path: str, expected: str, timeout: float = 30.0) -> tuple[float, int]:
        """perf_counter() of the first 200 whose body contains ``expected``, and the tries."""
        deadline = time.perf_counter() + timeout
        tries = 0
        last = ""
        while time.perf_counter() < deadline:
            tries += 1
            try:
                status, body = base.http_get(self.port, path, host=self.host)
            except OSError as exc:
                last = repr(exc)
            else:
                if status == 200 and expected in body.decode(errors="replace"):
                    return time.perf_counter(), tries
                last = f"{status} {body[:200]!r}"
            time.sleep(POLL_S)
        raise RuntimeError(f"{self.host}{path} never showed {expected!r}; last answer: {last}")


@dataclass
class Serving:
    """One build, from creation to its first answer (perf_counter seconds)."""

    started: float
    created: float
    completed: float
    deployed: float
    served: float
    polls: int
    tries: int

    @property
    def build_ms(self) -> float:
        return (self.completed - self.started) * 1000

    @property
    def deploy_ms(self) -> float:
        return (self.deployed - self.completed) * 1000

    @property
    def first_ms(self) -> float:
        return (self.served - self.deployed) * 1000

    @property
    def total_ms(self) -> float:
        return (self.served - self.started) * 1000


@dataclass
class Series:
    name: str
    runs: list[Serving] = field(default_factory=list)

    def column(self, attr: str) -> list[float]:
        return [getattr(run, attr) for run in self.runs]


def function_source(marker: str, uses_dependency: bool) -> bytes:
    if uses_dependency:
        return (
            f"import {DEPENDENCY}\n\n\ndef handler(context, event, callback):\n"
            f"    return {marker!r} + ' ' + {DEPENDENCY}.VALUE\n"
        ).encode()
    return f"def handler(context, event, callback):\n    return {marker!r}\n".encode()


def timed_build(service: Service, label: str, deps: list[Any]) -> Serving:
    """Upload 10 functions + 10 assets (not timed), then time build -> deployed -> first 200."""
    marker = f"{label} {secrets.token_hex(4)}"
    functions = [
        service.upload(
            "function",
            f"/fn-{i:02}",
            function_source(f"{marker} fn-{i:02}", bool(deps) and i == 0),
            "text/x-python",
        )
        for i in range(FUNCTIONS)
    ]
    assets = [
        service.upload(
            "asset", f"/asset-{i:02}.txt", f"{marker} asset {i}\n".encode() * 40, "text/plain"
        )
        for i in range(ASSETS)
    ]
    time.sleep(0.3)  # let the previous build's workers drain first
    started = time.perf_counter()
    build_sid = service.create_build(functions, assets, deps)
    created = time.perf_counter()
    polls = service.wait_built(build_sid)
    completed = time.perf_counter()
    service.deploy(build_sid)
    deployed = time.perf_counter()
    served, tries = service.first_answer("/fn-00", f"{marker} fn-00")
    return Serving(started, created, completed, deployed, served, polls, tries)


def show_serving(index: str, run: Serving) -> None:
    say(
        f"  {index:>8}: build {run.build_ms:6.1f} ms (status read {run.polls}x; POST answered in "
        f"{(run.created - run.started) * 1000:.1f} ms), deploy {run.deploy_ms:5.1f} ms, "
        f"first request {run.first_ms:5.1f} ms{f' ({run.tries} tries)' if run.tries > 1 else ''}"
        f", total {run.total_ms:6.1f} ms"
    )


def server_log_note(procs: base.Processes, serve: subprocess.Popen[bytes]) -> str:
    """What callbox serve wrote after its start banner (warnings, errors), in short."""
    text = procs.log_tail(serve, 10_000)
    lines = text.splitlines()
    after = next((i + 1 for i, line in enumerate(lines) if line.startswith("Listening on")), 0)
    extra = [line for line in lines[after:] if line.strip()]
    if not extra:
        return "callbox serve wrote nothing after its start banner (no warnings, no errors)"
    shown = "\n".join(f"    {line}" for line in extra[:15])
    more = f"\n    ... ({len(extra) - 15} more lines)" if len(extra) > 15 else ""
    return f"callbox serve wrote {len(extra)} line(s) after its start banner:\n{shown}{more}"


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 s load runs, 3 deployments and 3 builds per case instead of 8 and 5 (about 40 s)",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "raw", "httpx"],
        default="auto",
        help="load generator: auto = wrk when installed, else raw asyncio sockets",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter with callbox installed"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the machine to be under 15 %% busy (shared machines)",
    )
    args = parser.parse_args()
    d = QUICK if args.quick else FULL
    python = args.python

    probe = subprocess.run(
        [python, "-c", "import callbox, uvicorn, sys; print(callbox.__version__, sys.version)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        say(f"{python} cannot import callbox and uvicorn; run with the project's .venv python.")
        return 2
    callbox_version, server_python = probe.stdout.strip().split(" ", 1)

    base.raise_fd_limit()
    load = base.Load(args.client)
    now = datetime.datetime.now().astimezone()
    say(f"callbox deployed-path benchmark, {now:%Y-%m-%d %H:%M:%S %Z}{' (--quick)' * args.quick}")
    say(f"machine: {base.machine()}")
    say(f"python: {server_python.split()[0]} ({python}); callbox {callbox_version}")
    say(f"load generator: {load.name}")
    say(f"source: {base.git_state()}")
    cpus = len(os.sched_getaffinity(0))
    busy = base.wait_quiet(args.wait_quiet, cpus)
    say(f"before start: machine {busy:.0f} % busy over 1 s, load average {base.loadavg()}")

    workdir = Path(tempfile.mkdtemp(prefix="callbox-bench-deployed-"))
    procs = base.Processes(workdir)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(d, python, load, workdir, procs, cpus)
    except BaseException:
        for name, proc, _log in procs.started:
            code = proc.poll()
            state = "running" if code is None else f"exited with {code}"
            say(f"--- {name} (pid {proc.pid}, {state}), last lines of its output:")
            say(procs.log_tail(proc, 30))
        raise
    finally:
        procs.stop_all()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Servers:
    bare: subprocess.Popen[bytes]
    serve: subprocess.Popen[bytes]
    start: subprocess.Popen[bytes]
    bare_port: int
    serve_port: int
    start_port: int


def run(
    d: Durations, python: str, load: base.Load, workdir: Path, procs: base.Processes, cpus: int
) -> int:
    from callbox.toolkit.client import ApiClient

    project = base.make_project(workdir)
    wheels = workdir / "wheels"
    make_wheel(wheels)
    busy_start = base.machine_busy_seconds()
    servers, credentials = start_servers(python, workdir, procs, project, wheels)
    client = ApiClient(f"http://127.0.0.1:{servers.serve_port}", *credentials)
    try:
        return measure(d, load, procs, cpus, project, client, servers, busy_start)
    finally:
        client.close()


def start_servers(
    python: str, workdir: Path, procs: base.Processes, project: Path, wheels: Path
) -> tuple[Servers, tuple[str, str]]:
    """bare uvicorn, callbox serve and callbox start, one after the other; prints start times."""
    say()
    say("== 1. start (process launch -> first 200) ==")
    bare_port, serve_port, start_port = base.free_port(), base.free_port(), base.free_port()
    t0 = time.perf_counter()
    bare = procs.launch("bare", base.bare_command(python, bare_port), base.clean_env())
    bare_cold = base.wait_ready(procs, bare, bare_port, "/") - t0
    say(f"  bare uvicorn     :{bare_port}  {bare_cold * 1000:7.0f} ms")

    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    serve_env = base.clean_env(
        CALLBOX_ACCOUNT_SID=account_sid,
        CALLBOX_AUTH_TOKEN=auth_token,
        CALLBOX_FIND_LINKS=str(wheels),
        CALLBOX_NO_INDEX="1",
        CALLBOX_CONCURRENCY_LIMIT=str(CONCURRENCY),
        UV_CACHE_DIR=str(workdir / "uv-cache"),  # not the user's cache: the install is ours
    )
    serve_args = [python, "-m", "callbox", "serve", "--data", str(workdir / "data")]
    t0 = time.perf_counter()
    serve = procs.launch("callbox-serve", [*serve_args, "--port", str(serve_port)], serve_env)
    serve_cold = base.wait_ready(procs, serve, serve_port, "/health") - t0
    say(f"  callbox serve    :{serve_port}  {serve_cold * 1000:7.0f} ms  (to /health)")

    t0 = time.perf_counter()
    start = procs.launch(
        "callbox-start",
        [python, "-m", "callbox", "start", str(project), "--port", str(start_port)],
        base.clean_env(CALLBOX_CONCURRENCY_LIMIT=str(CONCURRENCY)),
    )
    start_cold = base.wait_ready(procs, start, start_port, "/hello") - t0
    say(f"  callbox start    :{start_port}  {start_cold * 1000:7.0f} ms  (reference)")
    servers = Servers(bare, serve, start, bare_port, serve_port, start_port)
    return servers, (account_sid, auth_token)


def measure(
    d: Durations,
    load: base.Load,
    procs: base.Processes,
    cpus: int,
    project: Path,
    client: Any,
    servers: Servers,
    busy_start: tuple[float, float],
) -> int:
    from callbox.toolkit.deployer import DeployRequest, deploy_project
    from callbox.toolkit.project import Layout

    bare, serve, start = servers.bare, servers.serve, servers.start
    bare_port, serve_port, start_port = servers.bare_port, servers.serve_port, servers.start_port

    # -- 2. deploy hello ----------------------------------------------------------------------
    say()
    say("== 2. deploy the hello project (toolkit deploy_project over HTTP) ==")
    t0 = time.perf_counter()
    deployed = deploy_project(
        client, DeployRequest(Layout.find(project), service_name="bench-hello", environment="")
    )
    deploy_s = time.perf_counter() - t0
    host = f"{deployed.domain}:{serve_port}"
    t0 = time.perf_counter()
    status, body = base.http_get(serve_port, "/hello", host=host)
    first_hello_ms = (time.perf_counter() - t0) * 1000
    say(
        f"  deployed {len(deployed.routes)} functions as build {deployed.build_sid} in "
        f"{deploy_s * 1000:.0f} ms; Host {host}"
    )
    say(
        f"  first GET /hello: {status} {body.decode(errors='replace')!r} in {first_hello_ms:.1f} ms"
    )
    if status != 200:
        raise RuntimeError("the deployed hello function does not answer 200")

    bare_url = f"http://127.0.0.1:{bare_port}/"
    serve_url = f"http://127.0.0.1:{serve_port}/hello"
    serve_async_url = f"http://127.0.0.1:{serve_port}/hello-async"
    start_url = f"http://127.0.0.1:{start_port}/hello"

    # -- 3. throughput at 50 connections --------------------------------------------------------
    procs.check_alive()
    say()
    say(f"== 3. requests/s at 50 connections ({d.rps} s each, after a {d.warmup} s warm-up) ==")
    say(f"  both callbox servers run with CALLBOX_CONCURRENCY_LIMIT={CONCURRENCY}")
    cases = [
        ("bare uvicorn", bare_url, None, bare.pid),
        ("serve /hello", serve_url, host, serve.pid),
        ("serve /hello-async", serve_async_url, host, serve.pid),
        ("start /hello (ref.)", start_url, None, start.pid),
    ]
    rps: dict[str, base.LoadResult] = {}
    meters: dict[str, base.CpuMeter] = {}
    for name, url, host_header, pid in cases:
        load.throughput(url, 50, d.warmup, host=host_header)
        with base.CpuMeter(pid) as meter:
            rps[name] = load.throughput(url, 50, d.rps, host=host_header)
        meters[name] = meter
        procs.check_alive()
    bare_ok = rps["bare uvicorn"].ok_rps
    ratios = {name: (r.ok_rps / bare_ok if bare_ok else 0.0) for name, r in rps.items()}
    for name, r in rps.items():
        say(
            f"  {name:20} {r.rps:9.0f} req/s  ({ratios[name] * 100:5.1f} % of bare; "
            f"{r.requests} requests in {r.seconds:.2f} s, non-2xx {r.non_2xx}, "
            f"socket errors {r.errors})"
        )
    n_workers = len(base.workers_of(serve.pid))
    say(f"  serve processes after the load: server + zygote + {n_workers} worker(s)")
    say("  CPU time per request (from /proc/<pid>/stat, over the measured run):")
    for name, r in rps.items():
        meter = meters[name]
        per = 1e6 / r.requests if r.requests else 0.0
        workers = "" if name == "bare uvicorn" else f", workers {meter.workers_s * per:3.0f} us"
        say(
            f"    {name:20} server {meter.server_s * per:4.0f} us{workers}, load generator "
            f"{meter.load_s * per:.0f} us  (server busy {meter.server_s / r.seconds * 100:.0f} %"
            f" of one CPU)"
        )

    # -- 4. latency at 1 connection -----------------------------------------------------------
    procs.check_alive()
    say()
    say(f"== 4. latency at 1 connection ({d.latency} s each) ==")
    lat: dict[str, base.LoadResult] = {}
    for name, url, host_header, _pid in cases:
        load.latency(url, 1, host=host_header)
        r = lat[name] = load.latency(url, d.latency, host=host_header)
        procs.check_alive()
        say(
            f"  {name:20} p50 {r.p50_ms or 0:6.3f} ms  p99 {r.p99_ms or 0:6.3f} ms  "
            f"max {r.max_ms or 0:7.3f} ms  ({r.rps:.0f} req/s, non-2xx {r.non_2xx})"
        )
    p50_delta = (lat["serve /hello"].p50_ms or 0) - (lat["bare uvicorn"].p50_ms or 0)
    say(f"  p50 difference serve /hello - bare: {p50_delta:+.3f} ms")

    # -- 5. memory after the load -------------------------------------------------------------
    procs.check_alive()
    say()
    say("== 5. memory of callbox serve after the load ==")
    zygote = base.zygote_of(serve.pid)
    worker_pids = base.workers_of(serve.pid)
    rows = [("bare uvicorn (reference)", bare.pid), ("callbox serve (uvicorn)", serve.pid)]
    if zygote:
        rows.append(("zygote (warm parent)", zygote))
    rows += [(f"worker {i + 1} of {len(worker_pids)}", p) for i, p in enumerate(worker_pids)]
    for name, pid in rows:
        say(
            f"  {name:26} pid {pid:>7}  RSS {base.mb(base.rss_kb(pid)):>9}  "
            f"PSS {base.mb(base.pss_kb(pid)):>9}"
        )
    server_rss = base.rss_kb(serve.pid)
    tree = [serve.pid, *base.descendants(serve.pid)]
    tree_rss = sum(base.rss_kb(p) or 0 for p in tree)
    tree_pss = sum(base.pss_kb(p) or 0 for p in tree)
    say(
        f"  whole tree: {len(tree)} processes, RSS sum {base.mb(tree_rss)}, "
        f"PSS sum {base.mb(tree_pss)}"
    )

    # -- 6. first request after a deployment ----------------------------------------------------
    procs.check_alive()
    first_ms = cold_starts(d.colds, client, serve.pid, serve_port)

    # -- 7. build creation -> serving -----------------------------------------------------------
    procs.check_alive()
    plain, cached = build_to_serving(d.repeats, client, serve_port, procs)

    procs.check_alive()
    say()
    say(server_log_note(procs, serve))
    busy_end, wall_end = base.machine_busy_seconds()
    own = os.times()
    ours = procs.cpu_seconds() + own.user + own.system + own.children_user + own.children_system
    others = max(0.0, busy_end - busy_start[0] - ours)
    say()
    say(
        f"CPU used outside this benchmark during the run: {others:.1f} s over "
        f"{wall_end - busy_start[1]:.0f} s on {cpus} CPUs "
        f"({100 * others / (wall_end - busy_start[1]) / cpus:.0f} % of the machine); "
        f"load average {base.loadavg()}"
    )

    # -- 8. summary ---------------------------------------------------------------------------
    say()
    say("== summary (targets of the deployed-path issue) ==")
    ratio, ratio_async = ratios["serve /hello"], ratios["serve /hello-async"]
    first_median = statistics.median(first_ms)
    plain_total = plain.column("total_ms")
    cached_total = cached.column("total_ms")

    def over(values: list[float], limit: float) -> str:
        return "" if max(values) <= limit else " (max over)"

    lines = [
        (
            "req/s at 50 connections",
            f"bare {bare_ok:.0f}, serve {rps['serve /hello'].ok_rps:.0f} ({ratio * 100:.1f} %); "
            f"async def {rps['serve /hello-async'].ok_rps:.0f} ({ratio_async * 100:.1f} %)",
            ">= 60 % of bare",
            base.verdict(ratio >= TARGET_RATIO),
        ),
        (
            "  reference: callbox start",
            f"start /hello {rps['start /hello (ref.)'].ok_rps:.0f} "
            f"({ratios['start /hello (ref.)'] * 100:.1f} %)",
            "-",
            "",
        ),
        (
            "p50 / p99 at 1 connection",
            f"bare {lat['bare uvicorn'].p50_ms or 0:.3f} / {lat['bare uvicorn'].p99_ms or 0:.3f}"
            f" ms, serve {lat['serve /hello'].p50_ms or 0:.3f} / "
            f"{lat['serve /hello'].p99_ms or 0:.3f} ms",
            "-",
            "",
        ),
        (
            "first request after a deployment",
            base.med_max(first_ms),
            f"<= {TARGET_FIRST_MS:.0f} ms",
            base.verdict(first_median <= TARGET_FIRST_MS) + over(first_ms, TARGET_FIRST_MS),
        ),
        (
            "build -> serving, no dependencies",
            base.med_max(plain_total),
            f"<= {TARGET_SERVING_S * 1000:.0f} ms",
            base.verdict(statistics.median(plain_total) <= TARGET_SERVING_S * 1000)
            + over(plain_total, TARGET_SERVING_S * 1000),
        ),
        (
            "build -> serving, cached dependencies",
            base.med_max(cached_total),
            f"<= {TARGET_CACHED_S * 1000:.0f} ms",
            base.verdict(statistics.median(cached_total) <= TARGET_CACHED_S * 1000)
            + over(cached_total, TARGET_CACHED_S * 1000),
        ),
        (
            "server RSS after the load",
            f"{base.mb(server_rss)} (bare uvicorn {base.mb(base.rss_kb(bare.pid))})",
            "-",
            "",
        ),
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(4)]
    header = ("figure", "measured", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    say("  " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say("  " + "-+-".join("-" * w for w in widths))
    for row in lines:
        say("  " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    say(f"  load generator: {load.name}")
    return 0


def cold_starts(count: int, client: Any, serve_pid: int, port: int) -> list[float]:
    """Deploy ``count`` new builds of one function; the first request of each, in ms."""
    say()
    say(f"== 6. first request after a deployment ({count} deployments of a new build) ==")
    say("  each: upload a new version of /hello, build, deploy (not timed), then one GET timed")
    cold = Service(client, port, "bench-cold")
    first_ms: list[float] = []
    second_ms: list[float] = []
    deploy_ms: list[float] = []
    for i in range(1, count + 1):
        marker = f"cold {i} {secrets.token_hex(4)}"
        version = cold.upload("function", "/hello", function_source(marker, False), "text/x-python")
        build_sid = cold.create_build([version], [], [])
        cold.wait_built(build_sid)
        time.sleep(0.3)  # the previous build's worker drains meanwhile
        t0 = time.perf_counter()
        cold.deploy(build_sid)
        t1 = time.perf_counter()
        before = set(base.workers_of(serve_pid))
        status, body = base.http_get(port, "/hello", host=cold.host)
        t2 = time.perf_counter()
        forked = len(set(base.workers_of(serve_pid)) - before)
        status2, _ = base.http_get(port, "/hello", host=cold.host)
        t3 = time.perf_counter()
        ok = status == 200 and body.decode(errors="replace") == marker
        deploy_ms.append((t1 - t0) * 1000)
        first_ms.append((t2 - t1) * 1000)
        second_ms.append((t3 - t2) * 1000)
        say(
            f"  deployment {i}: POST Deployments {deploy_ms[-1]:5.1f} ms, first request "
            f"{first_ms[-1]:5.1f} ms -> {status}{'' if ok else ' NOT THE NEW BUILD: ' + repr(body)}"
            f" ({forked} worker(s) forked), next request {second_ms[-1]:4.1f} ms ({status2})"
        )
    say(
        f"  first request {base.med_max(first_ms)}; next request {base.med_max(second_ms)}; "
        f"POST Deployments {base.med_max(deploy_ms)}"
    )
    return first_ms


def build_to_serving(
    repeats: int, client: Any, port: int, procs: base.Processes
) -> tuple[Series, Series]:
    """Fresh builds of 10 functions + 10 assets: without dependencies, then with a cached set."""
    say()
    say(
        f"== 7. build creation -> serving: {FUNCTIONS} functions + {ASSETS} assets, "
        f"{repeats} fresh builds each =="
    )
    say(
        f"  uploads are not timed; timed: POST Builds -> status completed (polled every "
        f"{POLL_S * 1000:.0f} ms) -> POST Deployments -> first 200 of /fn-00 from the new build"
    )
    service = Service(client, port, "bench-build")
    plain = Series("no dependencies")
    say("  -- no dependencies --")
    for i in range(1, repeats + 1):
        plain.runs.append(timed_build(service, f"plain {i}", []))
        show_serving(f"build {i}", plain.runs[-1])
        procs.check_alive()
    deps = [{"name": DEPENDENCY, "version": "0.1"}]
    say(f"  -- dependencies {json.dumps(deps)} (local wheel, CALLBOX_NO_INDEX=1) --")
    warm = timed_build(service, "warm-up", deps)
    show_serving("warm-up", warm)
    say("            (first build with this set: uv installs it; not counted)")
    cached = Series("cached dependency set")
    for i in range(1, repeats + 1):
        cached.runs.append(timed_build(service, f"cached {i}", deps))
        show_serving(f"build {i}", cached.runs[-1])
        procs.check_alive()
    status, body = base.http_get(port, "/fn-00", host=service.host)
    say(f"  the last build's /fn-00 answers {status} {body.decode(errors='replace')!r}")
    for series in (plain, cached):
        say(
            f"  {series.name}: total {base.med_max(series.column('total_ms'))}; build "
            f"{base.med_max(series.column('build_ms'))}; deploy "
            f"{base.med_max(series.column('deploy_ms'))}; first request "
            f"{base.med_max(series.column('first_ms'))}"
        )
    t0 = time.perf_counter()
    for _ in range(20):
        client.builds(service.sid)
    list_ms = (time.perf_counter() - t0) / 20 * 1000
    t0 = time.perf_counter()
    sid = client.builds(service.sid)[0]["sid"]
    for _ in range(50):
        client.build_status(service.sid, sid)
    status_ms = (time.perf_counter() - t0) / 50 * 1000
    say(
        f"  for reference: one GET .../Status takes {status_ms:.1f} ms, one GET .../Builds "
        f"(a page of {2 * repeats + 1} builds with 20 versions each) {list_ms:.1f} ms"
    )
    return plain, cached


if __name__ == "__main__":
    sys.exit(main())
