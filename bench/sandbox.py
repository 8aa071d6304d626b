#!/usr/bin/env python3
"""What the sandbox costs, in one run with it on and off: prints figures, never asserts them.

1. worker start: the warm parent forks a worker, which puts its fences up (cgroups, namespaces,
   file view, uid, Landlock) and says hello; measured in this process through the Supervisor,
   N times per mode (needs root for the isolated mode);
2. through ``callbox serve``, one server per mode (CALLBOX_SANDBOX=auto and off), the same
   deployed hello function: requests/s at 50 connections, p50/p99 at 1 connection, and the
   first request after a deployment (a new build: a worker is started for it).

    sudo .venv/bin/python bench/sandbox.py            # about 60 s
    sudo .venv/bin/python bench/sandbox.py --quick    # about 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import deployed  # noqa: E402  (bench/deployed.py: Service, driven through the API)
import run as base  # noqa: E402  (bench/run.py: processes, load generators)

from callbox.gateway.supervisor import Supervisor  # noqa: E402
from callbox.sandbox.policy import Sandbox, Settings  # noqa: E402

HELLO = b"def handler(context, event, callback):\n    return callback(None, 'Hello World!')\n"
TARGET_COST = 0.10  # the issue: cost per request within 10 %
TARGET_START_MS = 50.0


def say(text: str = "") -> None:
    base.say(text)


async def spawn_times(mode: str, count: int, root: Path) -> list[float]:
    """Milliseconds from asking for a worker to its hello, ``count`` times."""
    sandbox = Sandbox(Settings(mode=mode, memory_mb=256))
    supervisor = Supervisor(max_body=4 << 20, sandbox=sandbox)
    await supervisor.start()
    spec = {
        "root": str(root),
        "functions": {},
        "assets": {},
        "site_packages": [],
        "memory_limit_mb": 256,
        "debug_errors": False,
        "local": False,
        "threads": 4,
        "slot": 1,
        "runtime": "python",
    }
    times = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            worker = await supervisor.spawn(spec)
            times.append((time.perf_counter() - began) * 1000)
            worker.kill()
    finally:
        await supervisor.stop()
        sandbox.close()
    return times


def serve(
    mode: str, procs: base.Processes, workdir: Path, python: str
) -> tuple[int, tuple[str, str]]:
    port = base.free_port()
    account = ("AC" + secrets.token_hex(16), secrets.token_hex(16))
    env = base.clean_env(
        CALLBOX_ACCOUNT_SID=account[0],
        CALLBOX_AUTH_TOKEN=account[1],
        CALLBOX_CONCURRENCY_LIMIT="2000",
        CALLBOX_SANDBOX=mode,
    )
    command = [python, "-m", "callbox", "serve", "--data", str(workdir / f"data-{mode}")]
    process = procs.launch(f"serve-{mode}", [*command, "--port", str(port)], env)
    base.wait_ready(procs, process, port, "/health")
    return port, account


def first_requests(service: deployed.Service, builds: int) -> list[float]:
    """Milliseconds from a deployment to its first answer, one new build each time."""
    times = []
    for n in range(builds):
        marker = f"build {n} {secrets.token_hex(4)}"
        source = HELLO.replace(b"Hello World!", marker.encode())
        version = service.upload("function", "/hello", source, "text/x-python")
        sid = service.create_build([version], [], [])
        service.wait_built(sid)
        began = time.perf_counter()
        service.deploy(sid)
        served, _ = service.first_answer("/hello", marker)
        times.append((served - began) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", default="auto", choices=["auto", "wrk", "raw", "httpx"])
    args = parser.parse_args()
    seconds, spawns, builds = (3, 10, 3) if args.quick else (8, 30, 5)
    load = base.Load(args.client)
    say(f"machine: {base.machine()}; load generator: {load.name}")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="callbox-bench-sandbox-") as folder:
        workdir = Path(folder)
        root = workdir / "empty-build"
        root.mkdir()
        root.chmod(0o755)
        say()
        say("== 1. worker start (fork from the warm parent -> fences -> hello) ==")
        for mode in ("auto", "off"):
            times = asyncio.run(spawn_times(mode, spawns, root))
            results.setdefault(mode, {})["start_ms"] = statistics.median(times)
            say(
                f"  sandbox {mode:4}: median {statistics.median(times):6.1f} ms, "
                f"max {max(times):6.1f} ms over {len(times)}"
            )
        procs = base.Processes(workdir)
        try:
            for mode in ("auto", "off"):
                say()
                say(f"== 2. callbox serve, CALLBOX_SANDBOX={mode} ==")
                from callbox.toolkit.client import ApiClient

                port, account = serve(mode, procs, workdir, sys.executable)
                client = ApiClient(f"http://127.0.0.1:{port}", *account)
                service = deployed.Service(client, port, f"bench-{mode}")
                firsts = first_requests(service, builds)
                url = f"http://127.0.0.1:{port}/hello"
                rps = load.throughput(url, 50, seconds, host=service.host)
                lat = load.latency(url, seconds, host=service.host)
                client.close()
                results[mode].update(
                    rps=rps.rps,
                    p50=lat.p50_ms or 0.0,
                    p99=lat.p99_ms or 0.0,
                    first=statistics.median(firsts),
                )
                say(
                    f"  first request after a deployment: median {statistics.median(firsts):.1f}"
                    f" ms (each: {', '.join(f'{t:.0f}' for t in firsts)})"
                )
                say(f"  50 connections: {rps.rps:,.0f} req/s ({rps.errors} errors)")
                say(f"  1 connection: p50 {lat.p50_ms or 0:.2f} ms, p99 {lat.p99_ms or 0:.2f} ms")
        finally:
            procs.stop_all()
    on, off = results["auto"], results["off"]
    cost = 1 - on["rps"] / off["rps"]
    say()
    say("== summary (sandbox on vs off, this run) ==")
    say(
        f"  cost per request (req/s at 50 connections): {cost * 100:+.1f} % "
        f"(target within {TARGET_COST * 100:.0f} %)"
    )
    say(f"  p50 at 1 connection: {on['p50']:.2f} ms vs {off['p50']:.2f} ms")
    say(
        f"  worker start: {on['start_ms']:.1f} ms vs {off['start_ms']:.1f} ms "
        f"(target under {TARGET_START_MS:.0f} ms)"
    )
    say(f"  first request after a deployment: {on['first']:.1f} ms vs {off['first']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
