#!/usr/bin/env python3
"""callbox benchmark of the Node.js runtime: prints figures, never asserts them.

One run starts a bare Node.js ``http`` server, ``callbox serve`` on a throw-away data folder
(hello world deployed twice through the API: as a node build and as a python3.11 build) and,
with ``--twilio-run``, Twilio's own ``twilio-run start`` on the same JavaScript function. It
prints, side by side:

1. requests/s at 50 connections (wrk, or raw sockets) of each;
2. p50 / p99 latency at 1 connection;
3. the first request after a deployment is activated (a new build each time: its worker is
   started when the deployment is made, so the request should find it warm);
4. 1,000 concurrent invocations of an async function that waits 1 s (one connection each).

    .venv/bin/python bench/node.py                 # about 90 s (npm installs twilio once)
    .venv/bin/python bench/node.py --quick         # 3 s load runs, fewer activations
    .venv/bin/python bench/node.py --twilio-run    # also twilio-run (npm install twilio-run)

The helpers (processes, load generators) are ``bench/run.py``'s; every process started here
is killed at the end (process groups) and the temporary folder removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as base  # noqa: E402  (bench/run.py: processes, /proc, load generators)

CONCURRENCY = 2000  # CALLBOX_CONCURRENCY_LIMIT: room for the 1,000 sleepers and 50 connections
SLEEPERS = 1000
HELLO_JS = "exports.handler = (context, event, callback) => callback(null, 'Hello World');\n"
SLEEP_JS = (
    "exports.handler = async (context, event, callback) => {\n"
    "  await new Promise((resolve) => setTimeout(resolve, 1000));\n"
    "  return callback(null, 'awake');\n"
    "};\n"
)
MARKED_JS = "exports.handler = (context, event, callback) => callback(null, {marker!r});\n"
HELLO_PY = 'def handler(context, event, callback):\n    return callback(None, "Hello World")\n'
SLEEP_PY = (
    "import asyncio\n\n\nasync def handler(context, event, callback):\n"
    "    await asyncio.sleep(1)\n    return callback(None, 'awake')\n"
)
BARE_NODE = """
const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('Hello World');
}).listen(Number(process.argv[2]), '127.0.0.1');
"""


class Api:
    """The Serverless API of the server under test (httpx, Basic auth)."""

    def __init__(self, port: int, account: tuple[str, str]) -> None:
        import httpx

        self.port = port
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=account, timeout=60)

    def post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.post(path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return dict(response.json())

    def service(self, name: str) -> tuple[str, str, str]:
        """(service sid, environment sid, domain)"""
        service = self.post("/v1/Services", data={"UniqueName": name, "FriendlyName": name})
        base = f"/v1/Services/{service['sid']}"
        env = self.post(f"{base}/Environments", data={"UniqueName": "dev", "DomainSuffix": "dev"})
        return service["sid"], env["sid"], env["domain_name"]

    def function(self, service: str, path: str, source: str, language: str) -> str:
        base = f"/v1/Services/{service}/Functions"
        function = self.post(base, data={"FriendlyName": path})
        name, mime = (
            (path[1:] + ".js", "application/javascript")
            if language == "node"
            else (path[1:] + ".py", "text/x-python")
        )
        version = self.post(
            f"{base}/{function['sid']}/Versions",
            data={"Path": path, "Visibility": "public"},
            files={"Content": (name, source.encode(), mime)},
        )
        return str(version["sid"])

    def build(self, service: str, versions: list[str], runtime: str) -> str:
        build = self.post(
            f"/v1/Services/{service}/Builds",
            data={"FunctionVersions": versions, "Runtime": runtime},
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            found = self.http.get(f"/v1/Services/{service}/Builds/{build['sid']}").json()
            if found["status"] != "building":
                if found["status"] != "completed":
                    raise RuntimeError(f"build failed: {found.get('error')}")
                return str(build["sid"])
            time.sleep(0.05)
        raise RuntimeError("build took longer than 300 s")

    def deploy(self, service: str, environment: str, build: str) -> None:
        self.post(
            f"/v1/Services/{service}/Environments/{environment}/Deployments",
            data={"BuildSid": build},
        )


def get(port: int, path: str, host: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def start_bare(procs: base.Processes, work: Path, node: str) -> int:
    """The bare Node.js ``http`` server; its port."""
    port = base.free_port()
    (work / "bare.js").write_text(BARE_NODE)
    bare = procs.launch("bare-node", [node, str(work / "bare.js"), str(port)], os.environ.copy())
    base.wait_ready(procs, bare, port, "/")
    return port


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:VAR=VALUE,VAR=VALUE`` -> (NAME, {VAR: VALUE}); ``NAME:`` adds nothing."""
    name, _, settings = text.partition(":")
    env = dict(item.split("=", 1) for item in settings.split(",") if item)
    return name, env


def compare(
    args: argparse.Namespace, load: base.Load, seconds: int, work: Path, procs: base.Processes
) -> int:
    """Variants of ``callbox serve`` side by side, in the same minutes: each round loads every
    variant once (the order alternates, A B then B A), so the machine's noise falls on all of
    them alike; the reading is the median of the per-round ratios to the first variant."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    variants = [parse_variant(text) for text in args.variant]
    base.say(f"machine: {base.machine()}")
    base.say(
        f"load generator: {load.name}; {args.language} hello world, 50 connections, "
        f"{seconds} s per run, {args.rounds} rounds"
    )
    bare_port = start_bare(procs, work, node)
    servers: list[tuple[str, str, str, int]] = []  # name, url, Host header, server pid
    for name, env in variants:
        port, _api, deployed = start_serve(
            procs, work, args.python, env, name=name, languages=(args.language,)
        )
        host = deployed[args.language][2]
        status, _ = get(port, "/hello", host)
        assert status == 200, (name, status)
        pid = procs.started[-1][1].pid
        servers.append((name, f"http://127.0.0.1:{port}/hello", host, pid))
        base.say(f"  {name}: {env or 'no extra variables'}")
    for _name, url, host, _pid in servers:  # warm: workers started, caches filled
        load.throughput(url, 50, 1, host)
    rps: dict[str, list[float]] = {name: [] for name, *_ in servers}
    server_us: dict[str, list[float]] = {name: [] for name, *_ in servers}
    bare: list[float] = []
    base.say("\nround  " + "  ".join(f"{name:>22}" for name, *_ in servers) + "   bare node")
    for round_ in range(args.rounds):
        order = servers if round_ % 2 == 0 else servers[::-1]
        for name, url, host, pid in order:
            procs.check_alive()
            with base.CpuMeter(pid) as meter:
                result = load.throughput(url, 50, seconds, host)
            rps[name].append(result.ok_rps)
            done = result.requests or 1
            server_us[name].append(meter.server_s / done * 1e6)
        bare.append(load.throughput(f"http://127.0.0.1:{bare_port}/", 50, seconds).ok_rps)
        cells = "  ".join(
            f"{rps[name][-1]:9.0f} req/s {server_us[name][-1]:4.0f} us" for name, *_ in servers
        )
        base.say(f"{round_ + 1:5}  {cells}   {bare[-1]:9.0f}")
    first = servers[0][0]
    base.say("\nmedians (server CPU per request: the gateway process only)")
    for name, *_ in servers:
        ratios = [b / a for a, b in zip(rps[first], rps[name], strict=True)]
        of_bare = [r / b * 100 for r, b in zip(rps[name], bare, strict=True)]
        base.say(
            f"  {name:22} {statistics.median(rps[name]):9.0f} req/s, "
            f"{statistics.median(server_us[name]):4.0f} us server CPU per request, "
            f"{statistics.median(ratios) * 100:6.1f} % of {first} "
            f"(rounds: {min(ratios) * 100:.1f}-{max(ratios) * 100:.1f} %), "
            f"{statistics.median(of_bare):5.1f} % of bare node"
        )
    return 0


def start_serve(
    procs: base.Processes,
    work: Path,
    python: str,
    extra_env: dict[str, str],
    name: str = "serve",
    languages: tuple[str, ...] = ("node", "python"),
) -> tuple[int, Api, dict[str, tuple[str, str, str]]]:
    """``callbox serve`` on a data folder of its own, hello world and the sleeper deployed in
    each language: (port, API client, {language: (service, environment, Host header)})."""
    account = ("AC" + secrets.token_hex(16), secrets.token_hex(16))
    serve_port = base.free_port()
    env = base.clean_env(
        CALLBOX_ACCOUNT_SID=account[0],
        CALLBOX_AUTH_TOKEN=account[1],
        CALLBOX_CONCURRENCY_LIMIT=str(CONCURRENCY),
        **extra_env,
    )
    serve = procs.launch(
        name,
        [
            python,
            "-m",
            "callbox",
            "serve",
            "--data",
            str(work / f"data-{name}"),
            "--port",
            str(serve_port),
        ],
        env,
    )
    base.wait_ready(procs, serve, serve_port, "/health")
    api = Api(serve_port, account)
    deployed: dict[str, tuple[str, str, str]] = {}
    for language, runtime, hello, sleep in (
        ("node", NODE_RUNTIME(), HELLO_JS, SLEEP_JS),
        ("python", "python3.11", HELLO_PY, SLEEP_PY),
    ):
        if language not in languages:
            continue
        service, environment, domain = api.service(f"bench-{language}")
        versions = [
            api.function(service, "/hello", hello, language),
            api.function(service, "/sleep", sleep, language),
        ]
        started = time.perf_counter()
        build = api.build(service, versions, runtime)
        build_s = time.perf_counter() - started
        api.deploy(service, environment, build)
        base.say(f"{name} {language}: built {runtime} in {build_s:.1f} s")
        deployed[language] = (service, environment, f"{domain}:{serve_port}")
    return serve_port, api, deployed


def first_requests(
    api: Api, service: str, environment: str, host: str, runtime: str, count: int
) -> list[float]:
    """ms from the deployment's answer to the first request's answer, on a new build each time
    (a new marker: the answer proves the new build served it)."""
    timings = []
    for i in range(count):
        marker = f"build {i} {secrets.token_hex(4)}"
        version = api.function(service, "/marked", MARKED_JS.format(marker=marker), "node")
        build = api.build(service, [version], runtime)
        api.deploy(service, environment, build)
        # What a client does right after the deploy: its first request. The deployment's
        # answer came first, so the worker was only just asked to start.
        started = time.perf_counter()
        status, body = get(api.port, "/marked", host)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200 or marker.encode() not in body:
            raise RuntimeError(f"the first request got {status} {body[:200]!r}")
        time.sleep(0.3)
    return timings


def sequential(port: int, path: str, host: str, count: int) -> list[float]:
    """ms of ``count`` GETs sent one after another, each on a new connection."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        status, _ = get(port, path, host)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    return timings


async def _burst(port: int, path: str, host: str, count: int) -> tuple[float, Counter[int]]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    statuses: Counter[int] = Counter()

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            data = await reader.read()
            writer.close()
            statuses[int(data.split(b" ", 2)[1])] += 1
        except (OSError, ValueError, IndexError):
            statuses[0] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started, statuses


def start_twilio_run(procs: base.Processes, work: Path, port: int) -> Any:
    """twilio-run on a project holding hello.js; None (and why) when it cannot be had."""
    project = work / "twilio-run-project"
    (project / "functions").mkdir(parents=True)
    (project / "functions" / "hello.js").write_text(HELLO_JS)
    manifest = {"name": "tr", "private": True, "dependencies": {"twilio-run": "latest"}}
    (project / "package.json").write_text(json.dumps(manifest))
    (project / ".env").write_text("")
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return None, f"npm install twilio-run failed: {done.stderr.strip()[-300:]}"
    binary = project / "node_modules" / ".bin" / "twilio-run"
    env = base.clean_env(CI="true", FORCE_COLOR="0")
    proc = procs.launch(
        "twilio-run", [str(binary), "start", "--port", str(port), "--cwd", str(project)], env
    )
    try:
        base.wait_ready(procs, proc, port, "/hello", timeout=120)
    except RuntimeError as exc:
        return None, f"twilio-run did not answer: {exc}"
    version = json.loads((project / "node_modules" / "twilio-run" / "package.json").read_text())
    return proc, f"twilio-run {version['version']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s load runs, 3 activations")
    parser.add_argument("--client", default="auto", choices=["auto", "wrk", "raw", "httpx"])
    parser.add_argument("--twilio-run", action="store_true", help="also measure twilio-run")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE[,VAR=VALUE]",
        help="compare mode (give two or more): one callbox serve per variant with these extra "
        "variables (e.g. metrics-off:CALLBOX_METRICS=off, or PYTHONPATH=OTHER_CHECKOUT/src for "
        "another version of the code), loaded in alternating rounds; nothing else is measured",
    )
    parser.add_argument("--rounds", type=int, default=5, help="compare mode: rounds (default 5)")
    parser.add_argument(
        "--language",
        choices=["node", "python"],
        default="node",
        help="compare mode: which deployed hello world is loaded (default node)",
    )
    args = parser.parse_args()
    if len(args.variant) == 1:
        parser.error("--variant: give two or more, to compare them")
    base.raise_fd_limit()
    load = base.Load(args.client)
    seconds = 3 if args.quick else 10
    activations = 3 if args.quick else 8
    work = Path(tempfile.mkdtemp(prefix="callbox-bench-node-"))
    procs = base.Processes(work)
    try:
        if args.variant:
            return compare(args, load, seconds, work, procs)
        return run(args, load, seconds, activations, work, procs)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def run(
    args: argparse.Namespace,
    load: base.Load,
    seconds: int,
    activations: int,
    work: Path,
    procs: base.Processes,
) -> int:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    base.say(f"machine: {base.machine()}")
    base.say(f"node {version}; load generator: {load.name}")

    # 1. The servers.
    bare_port = start_bare(procs, work, node)
    serve_port, api, deployed = start_serve(procs, work, args.python, {})
    for language, (_s, _e, host) in deployed.items():
        status, _ = get(serve_port, "/hello", host)
        assert status == 200, (language, status)

    twilio_run, twilio_note = None, "not measured (run with --twilio-run)"
    tr_port = base.free_port()
    if args.twilio_run:
        twilio_run, twilio_note = start_twilio_run(procs, work, tr_port)
    base.say(f"twilio-run: {twilio_note}")

    targets: list[tuple[str, str, str | None]] = [
        ("bare node http", f"http://127.0.0.1:{bare_port}/hello", None),
        ("callbox serve, node", f"http://127.0.0.1:{serve_port}/hello", deployed["node"][2]),
        ("callbox serve, python", f"http://127.0.0.1:{serve_port}/hello", deployed["python"][2]),
    ]
    if twilio_run is not None:
        targets.append(("twilio-run start", f"http://127.0.0.1:{tr_port}/hello", None))

    # 1-2. Throughput and latency. twilio-run forks a process per request: under load its
    # answers take longer than wrk waits, so it is also timed one request after another.
    base.say(f"\n1. requests/s at 50 connections ({seconds} s each)")
    rps: dict[str, float] = {}
    for name, url, host in targets:
        procs.check_alive()
        result = load.throughput(url, 50, seconds, host)
        rps[name] = result.ok_rps
        failed = result.non_2xx + result.errors
        bad = f", {result.non_2xx} non-2xx, {result.errors} errors/timeouts" if failed else ""
        base.say(f"  {name:24} {result.ok_rps:9.0f} req/s{bad}")
    bare_rps = rps["bare node http"]
    for name in rps:
        base.say(f"  {name:24} {rps[name] / bare_rps * 100:6.1f} % of bare node")

    base.say(f"\n2. latency at 1 connection ({seconds} s each)")
    p50: dict[str, float] = {}
    for name, url, host in targets:
        if name == "twilio-run start":
            timings = sequential(tr_port, "/hello", f"127.0.0.1:{tr_port}", 10)
            p50[name] = statistics.median(timings)
            rps[name] = max(rps[name], 1000 / statistics.mean(timings))  # wrk saw none finish
            base.say(
                f"  {name:24} p50 {p50[name]:.3f} ms  max {max(timings):.3f} ms "
                f"(10 requests one after another: {1000 / statistics.mean(timings):.1f} req/s)"
            )
            continue
        result = load.latency(url, seconds, host)
        p50[name] = result.p50_ms or 0.0
        base.say(f"  {name:24} p50 {result.p50_ms:.3f} ms  p99 {result.p99_ms:.3f} ms")

    # 4. 1,000 concurrent sleepers.
    base.say(f"\n3. {SLEEPERS} concurrent invocations of an async function waiting 1 s")
    bursts = {}
    for language in ("node", "python"):
        procs.check_alive()
        wall, statuses = base.run_async(
            _burst(serve_port, "/sleep", deployed[language][2], SLEEPERS)
        )
        bursts[language] = wall
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        base.say(f"  {language:7} all answered in {wall:.3f} s ({shown})")
        time.sleep(1)

    # 3. First request after activation.
    base.say(f"\n4. first request after a deployment is activated ({activations} new builds)")
    service, environment, host = deployed["node"]
    firsts = first_requests(api, service, environment, host, NODE_RUNTIME(), activations)
    base.say(f"  node: median {statistics.median(firsts):.1f} ms, max {max(firsts):.1f} ms")

    base.say("\nsummary (issue 10 targets)")
    node_rps = rps["callbox serve, node"]
    base.say(f"  node vs bare at 50 conns: {node_rps / bare_rps * 100:.1f} % (target >= 30 %)")
    if "twilio-run start" in rps:
        ratio = node_rps / max(rps["twilio-run start"], 1)
        base.say(f"  node vs twilio-run:       {ratio:.1f}x (target: far ahead)")
    gap = p50["callbox serve, node"] - p50["bare node http"]
    base.say(f"  p50 gap to bare at 1 conn: {gap:.3f} ms (target <= 1 ms)")
    base.say(
        f"  first request after activation: median {statistics.median(firsts):.1f} ms "
        "(target < 50 ms)"
    )
    base.say(f"  1,000 sleepers (node): {bursts['node']:.3f} s (target < 1.5 s)")
    return 0


def NODE_RUNTIME() -> str:  # noqa: N802 - reads like the constant it stands for
    from callbox.builds.runtimes import newest_node_runtime

    return newest_node_runtime() or "node22"


if __name__ == "__main__":
    sys.exit(main())
