#!/usr/bin/env python3
"""callbox benchmark of several nodes: prints figures, never asserts them.

One run starts a throwaway PostgreSQL (tests/postgres.py), three ``callbox serve`` nodes on
it, each with its own data folder, and HAProxy configured by docs/haproxy.cfg
(tests/balancer.py), then prints:

1. requests/s and p99 of a deployed hello function through the balancer with 1, 2 and 3
   nodes behind it (wrk, 50 connections), next to one node reached directly;
2. the time from a deployment (its API call through node 1 answered) to every node serving
   the new build: p50 and p99 over many deployments, each node polled every 2 ms;
3. the time for a fresh node (an empty data folder) to serve an existing environment, from its
   process start and from its first answer on /health.

On a machine with 2 cores, three nodes, HAProxy, PostgreSQL and wrk share those cores: more
nodes cannot add throughput there; the figures show what the balancer and the extra nodes cost.

    .venv/bin/python bench/cluster.py            # about 2 min
    .venv/bin/python bench/cluster.py --quick    # about 1 min
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent / "tests"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(TESTS))

import run as base  # noqa: E402  (bench/run.py: processes, load generators)
from deployed import Service  # noqa: E402

from balancer import Balancer  # noqa: E402  (tests/balancer.py: HAProxy from docs/haproxy.cfg)
from postgres import Cluster  # noqa: E402  (tests/postgres.py: a throwaway PostgreSQL)

NODES = 3
CONCURRENCY = 2000  # CALLBOX_CONCURRENCY_LIMIT: the default (30) is below 50 connections
HELLO = b'def handler(context, event, callback):\n    return callback(None, "Hello World")\n'


def marker_source(marker: str) -> bytes:
    return (
        f'def handler(context, event, callback):\n    return callback(None, "{marker}")\n'.encode()
    )


def start_node(
    procs: base.Processes, python: str, workdir: Path, name: str, env: dict[str, str]
) -> tuple[object, int, float]:
    """A ``callbox serve`` node on a new data folder; (process, port, start seconds)."""
    port = base.free_port()
    args = [python, "-m", "callbox", "serve", "--data", str(workdir / f"data-{name}")]
    started = time.perf_counter()
    proc = procs.launch(name, [*args, "--port", str(port)], env)
    ready = base.wait_ready(procs, proc, port, "/health")
    return proc, port, ready - started


def deploy_marker(service: Service, marker: str) -> str:
    version = service.upload("function", "/which", marker_source(marker), "text/x-python")
    build = service.create_build([version], [], [])
    service.wait_built(build)
    return build


def until_all_serve(ports: list[int], host: str, marker: str, timeout: float = 10.0) -> float:
    """perf_counter() when the last of ``ports`` first answered ``marker``."""
    done: dict[int, float] = {}
    deadline = time.perf_counter() + timeout
    while len(done) < len(ports):
        for port in ports:
            if port in done:
                continue
            try:
                status, body = base.http_get(port, "/which", timeout=2, host=host)
            except OSError:
                continue
            if status == 200 and body.decode(errors="replace") == marker:
                done[port] = time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"not every node served {marker} within {timeout} s")
        time.sleep(0.002)
    return max(done.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 s load runs, 10 deployments")
    parser.add_argument("--python", default=sys.executable, help="interpreter with callbox")
    args = parser.parse_args()
    seconds, deployments = (3, 10) if args.quick else (10, 40)
    base.raise_fd_limit()
    now = datetime.datetime.now().astimezone()
    base.say(f"callbox cluster benchmark, {now:%Y-%m-%d %H:%M:%S %Z}{' (--quick)' * args.quick}")
    base.say(f"machine: {base.machine()}")
    base.say(f"source: {base.git_state()}")
    base.say(f"load average before start: {base.loadavg()}")

    workdir = Path(tempfile.mkdtemp(prefix="callbox-bench-cluster-"))
    procs = base.Processes(workdir)
    postgres = Cluster()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args.python, workdir, procs, postgres, seconds, deployments)
    except BaseException:
        for name, proc, _log in procs.started:
            base.say(f"--- {name} (pid {proc.pid}), last lines of its output:")
            base.say(procs.log_tail(proc, 30))
        raise
    finally:
        procs.stop_all()
        postgres.stop()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)


def run(
    python: str,
    workdir: Path,
    procs: base.Processes,
    postgres: Cluster,
    seconds: int,
    deployments: int,
) -> int:
    from cryptography.fernet import Fernet

    from callbox.toolkit.client import ApiClient

    account = ("AC" + secrets.token_hex(16), secrets.token_hex(16))
    env = base.clean_env(
        CALLBOX_ACCOUNT_SID=account[0],
        CALLBOX_AUTH_TOKEN=account[1],
        CALLBOX_DATABASE_URL=postgres.database(),
        CALLBOX_SECRET_KEY=Fernet.generate_key().decode(),
        CALLBOX_CONCURRENCY_LIMIT=str(CONCURRENCY),
        CALLBOX_ACCESS_LOG="off",
    )
    base.say()
    base.say("== nodes (process start -> /health) ==")
    ports = []
    for n in range(1, NODES + 1):
        _proc, port, took = start_node(procs, python, workdir, f"node{n}", env)
        ports.append(port)
        base.say(f"  node{n} :{port}  {took * 1000:6.0f} ms")

    client = ApiClient(f"http://127.0.0.1:{ports[0]}", *account)
    try:
        service = Service(client, ports[0], "bench-cluster")
        version = service.upload("function", "/hello", HELLO, "text/x-python")
        build = service.create_build([version], [], [])
        service.wait_built(build)
        service.deploy(build)
        host = service.host.rsplit(":", 1)[0]
        time.sleep(1.0)  # every node heard of the deployment

        # -- 1. throughput through the balancer ---------------------------------------------
        base.say()
        base.say(f"== 1. hello world, wrk 2 threads x 50 connections, {seconds} s ==")
        base.say(f"  {'behind the balancer':<26} {'req/s':>9} {'non-2xx':>8} {'p50':>9} {'p99':>9}")
        direct = base.wrk(
            f"http://127.0.0.1:{ports[0]}/hello", 2, 50, seconds, latency=True, host=host
        )
        _row("one node, directly", direct)
        for count in (1, 2, 3):
            lb_port = base.free_port()
            folder = workdir / f"haproxy-{count}"
            folder.mkdir()
            front = Balancer(folder, lb_port, ports[:count])
            try:
                if not _wait_balancer(lb_port, host):
                    raise RuntimeError(f"HAProxy never answered:\n{front.stop()}")
                result = base.wrk(
                    f"http://127.0.0.1:{lb_port}/hello", 2, 50, seconds, latency=True, host=host
                )
            finally:
                front.stop()
            _row(f"{count} node{'s' * (count > 1)}, HAProxy", result)

        # -- 2. a deployment reaching every node --------------------------------------------
        base.say()
        base.say(f"== 2. deployment through node1 -> every node serves it ({deployments}x) ==")
        spread = Service(client, ports[0], "bench-spread")
        first = deploy_marker(spread, "first")
        spread.deploy(first)
        spread_host = spread.host.rsplit(":", 1)[0]
        until_all_serve(ports, spread_host, "first")
        builds = [(f"m{i}", deploy_marker(spread, f"m{i}")) for i in range(deployments)]
        api_ms, spread_ms = [], []
        for marker, build_sid in builds:
            started = time.perf_counter()
            spread.deploy(build_sid)
            answered = time.perf_counter()
            everywhere = until_all_serve(ports, spread_host, marker)
            api_ms.append((answered - started) * 1000)
            spread_ms.append((everywhere - answered) * 1000)
        base.say(f"  the deployment's API answer: {base.med_max(api_ms)}")
        base.say(
            "  answer -> last node serving: "
            f"p50 {statistics.median(spread_ms):.1f} ms, "
            f"p99 {base.percentile(spread_ms, 99):.1f} ms, max {max(spread_ms):.1f} ms"
        )

        # -- 3. a fresh node ----------------------------------------------------------------
        base.say()
        base.say("== 3. a fresh node (empty data folder) serving the existing environment ==")
        port = base.free_port()
        args = [python, "-m", "callbox", "serve", "--data", str(workdir / "data-fresh")]
        started = time.perf_counter()
        fresh = procs.launch("fresh", [*args, "--port", str(port)], env)
        health = base.wait_ready(procs, fresh, port, "/health")
        served = _wait_served(port, host)
        base.say(f"  process start -> /health 200: {(health - started) * 1000:6.0f} ms")
        base.say(f"  /health -> environment 200:   {(served - health) * 1000:6.0f} ms")
        base.say(f"  process start -> serving:     {(served - started) * 1000:6.0f} ms")
    finally:
        client.close()
    base.say()
    base.say(f"load average at the end: {base.loadavg()}; cores: {os.cpu_count()}")
    return 0


def _row(label: str, result: base.LoadResult) -> None:
    p50 = f"{result.p50_ms:.2f} ms" if result.p50_ms is not None else "-"
    p99 = f"{result.p99_ms:.2f} ms" if result.p99_ms is not None else "-"
    base.say(f"  {label:<26} {result.rps:>9,.0f} {result.non_2xx:>8} {p50:>9} {p99:>9}")


def _wait_balancer(port: int, host: str, timeout: float = 15.0) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if base.http_get(port, "/hello", timeout=2, host=host)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _wait_served(port: int, host: str, timeout: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if base.http_get(port, "/hello", timeout=10, host=host)[0] == 200:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"the fresh node never served {host} within {timeout} s")


if __name__ == "__main__":
    raise SystemExit(main())
