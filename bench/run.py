#!/usr/bin/env python3
"""callbox benchmark: prints figures, never asserts them.

One run starts a bare uvicorn app ("Hello World") and ``callbox start`` on a throw-away project,
drives both with the same load, and prints:

1. requests/s at 50 connections for both, and callbox's ratio to bare;
2. p50 / p99 latency at 1 connection for both;
3. cold start (process launch -> first 200) and the first request after a file change;
4. memory (RSS and PSS) of the callbox server, its zygote and one idle worker;
5. 1,000 concurrent requests to an async function sleeping 1 s: wall time, errors, peak memory;
6. a summary table with the targets of issue 2 next to each figure.

Load comes from ``wrk`` when it is on PATH (``apt-get install wrk``), else from keep-alive raw
asyncio sockets; ``--client httpx`` uses httpx instead (far slower than the servers here). The
generator used is printed. Every process started here is killed at the end (process groups).

    .venv/bin/python bench/run.py            # about 75 s
    .venv/bin/python bench/run.py --quick    # shorter durations, about 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

HELLO = 'def handler(context, event, callback):\n    return "Hello World"\n'
HELLO_ASYNC = 'async def handler(context, event, callback):\n    return "Hello World"\n'
SLEEP = (
    "import asyncio\n\n\n"
    "async def handler(context, event, callback):\n"
    "    await asyncio.sleep(1)\n"
    '    return "slept"\n'
)

# Targets from issue 2, "Benchmark".
TARGET_RATIO = 0.60
TARGET_P50_DELTA_MS = 1.0
TARGET_CHANGE_MS = 50.0
TARGET_SLEEP_WALL_S = 1.5
TARGET_SLEEP_MEM_MB = 1024.0

SLEEPERS = 1000
SLEEP_LIMIT = 2000  # CALLBOX_CONCURRENCY_LIMIT of the server that runs the sleepers


@dataclass
class Durations:
    warmup: int
    rps: int
    latency: int
    limit_check: int
    changes: int
    httpx_sleepers: bool


FULL = Durations(warmup=2, rps=10, latency=5, limit_check=3, changes=5, httpx_sleepers=True)
QUICK = Durations(warmup=1, rps=3, latency=2, limit_check=2, changes=3, httpx_sleepers=False)


def say(text: str = "") -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Processes:
    """Every process this script starts, each the leader of its own process group."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def launch(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: zygote and workers included
            )
        self.started.append((name, proc, log))
        return proc

    def log_tail(self, proc: subprocess.Popen[bytes], lines: int = 20) -> str:
        for _name, candidate, log in self.started:
            if candidate is proc:
                with contextlib.suppress(OSError):
                    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def check_alive(self) -> None:
        """Raise if a started process ended: every figure after that would be meaningless."""
        for name, proc, _log in self.started:
            code = proc.poll()
            if code is None:
                continue
            how = f"exit code {code}"
            if code < 0:
                how = f"killed by {signal.Signals(-code).name}"
                if -code in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT):
                    how += (
                        " sent from outside this benchmark (is another process on this machine "
                        "stopping callbox processes by name?)"
                    )
            raise RuntimeError(f"{name} (pid {proc.pid}) ended during the run: {how}")

    def cpu_seconds(self) -> float:
        """CPU time of every live process started here and of the children they reaped."""
        total = 0
        for _name, proc, _log in self.started:
            for pid in [proc.pid, *descendants(proc.pid)]:
                total += proc_cpu_ticks(pid)
        return total / CLOCK_TICKS

    def stop_all(self) -> None:
        for _name, proc, _log in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for _name, proc, _log in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Whatever is left of each group (a worker the server did not stop, a stuck server).
        for _name, proc, _log in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(
    port: int, path: str, timeout: float = 10.0, host: str | None = None
) -> tuple[int, bytes]:
    """One GET on a new connection to 127.0.0.1:port, with ``host`` as the Host header if
    given (an environment of ``callbox serve``, by its domain)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def med_max(values_ms: list[float]) -> str:
    """Median and maximum of durations in milliseconds, as every bench prints them."""
    return f"median {statistics.median(values_ms):.1f} ms, max {max(values_ms):.1f} ms"


def wait_ready(
    procs: Processes,
    proc: subprocess.Popen[bytes],
    port: int,
    path: str,
    timeout: float = 60.0,
) -> float:
    """perf_counter() of the first 200 on ``path``; raises if the process dies or never answers."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited with {proc.returncode} before answering:\n{procs.log_tail(proc)}"
            )
        try:
            status, _ = http_get(port, path, timeout=5)
        except OSError:
            time.sleep(0.005)
            continue
        if status == 200:
            return time.perf_counter()
        time.sleep(0.005)
    raise RuntimeError(f"no 200 on :{port}{path} within {timeout:.0f} s:\n{procs.log_tail(proc)}")


# --------------------------------------------------------------------------------------------
# /proc
# --------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = [pid]
    while stack:
        for child in children(stack.pop()):
            out.append(child)
            stack.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def zygote_of(server_pid: int) -> int | None:
    """The warm parent: the server's child running ``callbox.worker.zygote``."""
    for pid in children(server_pid):
        if "callbox.worker.zygote" in cmdline(pid):
            return pid
    return None


def workers_of(server_pid: int) -> list[int]:
    """Worker processes: the zygote's children (forked, so their cmdline is the zygote's)."""
    zygote = zygote_of(server_pid)
    return children(zygote) if zygote else []


def _proc_kb(path: str, field: str) -> int | None:
    """A "<field> <n> kB" line of a /proc file, or None if the process is gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kb(pid: int) -> int | None:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int | None:
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of a process (its reaped children included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return sum(int(x) for x in fields[11:15])


def cpu_snapshot(pids: list[int]) -> dict[int, int]:
    return {pid: proc_cpu_ticks(pid) for pid in pids}


def cpu_delta(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds used between two snapshots (a process new in ``after`` counts from 0)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / CLOCK_TICKS


class CpuMeter:
    """CPU per request of the bare server, the callbox server, its workers and the load tool."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def _snap(self) -> tuple[dict[int, int], dict[int, int], float]:
        zygote = zygote_of(self.server_pid)
        others = [zygote, *workers_of(self.server_pid)] if zygote else []
        own = os.times()
        return (
            cpu_snapshot([self.server_pid]),
            cpu_snapshot(others),
            own.user + own.system + own.children_user + own.children_system,
        )

    def __enter__(self) -> CpuMeter:
        self.before = self._snap()
        return self

    def __exit__(self, *_exc: object) -> None:
        after = self._snap()
        self.server_s = cpu_delta(self.before[0], after[0])
        self.workers_s = cpu_delta(self.before[1], after[1])
        self.load_s = after[2] - self.before[2]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy CPU seconds, wall clock) since boot, over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / CLOCK_TICKS, time.monotonic()


def wait_quiet(max_wait: float, cpus: int) -> float:
    """Wait (up to ``max_wait`` s) until the machine is under 15 % busy; returns the last %."""
    give_up = time.monotonic() + max_wait
    while True:
        busy0, wall0 = machine_busy_seconds()
        time.sleep(1)
        busy1, wall1 = machine_busy_seconds()
        busy = 100 * (busy1 - busy0) / (wall1 - wall0) / cpus
        if busy < 15 or time.monotonic() >= give_up:
            return busy


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


class MemorySampler(threading.Thread):
    """Sums RSS (and PSS) of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, root_pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = [self.root_pid, *descendants(self.root_pid)]
            rss = sum(rss_kb(p) or 0 for p in pids)
            pss = sum(pss_kb(p) or 0 for p in pids)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)


@contextlib.contextmanager
def sampling(root_pid: int) -> Iterator[MemorySampler]:
    sampler = MemorySampler(root_pid)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


# --------------------------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    non_2xx: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok_rps(self) -> float:
        good = self.requests - self.non_2xx - self.errors
        return max(0, good) / self.seconds if self.seconds else 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    threads: int,
    conns: int,
    seconds: int,
    latency: bool = False,
    host: str | None = None,
) -> LoadResult:
    """``host``: the Host header to send instead of the URL's (e.g. an environment domain)."""
    args = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
    if latency:
        args.append("--latency")
    if host:
        args += ["-H", f"Host: {host}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or out}")
    result = LoadResult()
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if not match:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    result.requests = int(match.group(1))
    result.seconds = _ms(match.group(2) + match.group(3)) / 1000
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result.non_2xx = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result.errors = sum(int(x) for x in match.groups()) if match else 0
    if latency:
        for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
            match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.MULTILINE)
            if match:
                setattr(result, attr, _ms(match.group(1)))
        match = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.MULTILINE)
        if match:
            result.max_ms = _ms(match.group(1))
    return result


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def _httpx_load(url: str, conns: int, seconds: float, host: str | None = None) -> LoadResult:
    import httpx

    result = LoadResult()
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    headers = {"Host": host} if host else None
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            while time.perf_counter() < deadline:
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                result.requests += 1
                if not 200 <= response.status_code < 400:
                    result.non_2xx += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(conns)))
        result.seconds = time.perf_counter() - started
    return result


def httpx_load(url: str, conns: int, seconds: float, host: str | None = None) -> LoadResult:
    return asyncio.run(_httpx_load(url, conns, seconds, host))


def httpx_latency(url: str, seconds: float, host: str | None = None) -> LoadResult:
    import httpx

    times: list[float] = []
    result = LoadResult()
    with httpx.Client(timeout=10, headers={"Host": host} if host else None) as client:
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                response = client.get(url)
            except httpx.HTTPError:
                result.errors += 1
                continue
            times.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                result.non_2xx += 1
        result.seconds = time.perf_counter() - started
    result.requests = len(times)
    if times:
        result.p50_ms = percentile(times, 50)
        result.p99_ms = percentile(times, 99)
        result.max_ms = max(times)
    return result


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def _split_url(url: str, host_header: str | None = None) -> tuple[str, int, bytes]:
    """Address, port and the request bytes; ``host_header`` replaces the URL's host:port."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    request = f"GET /{path} HTTP/1.1\r\nHost: {host_header or hostport}\r\n\r\n".encode()
    return host, int(port or 80), request


def _status_and_length(head: bytes) -> tuple[int, int]:
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        raise ValueError("the answer has no Content-Length (chunked answers are not supported)")
    return int(head.split(b" ", 2)[1]), int(match.group(1))


async def _raw_load(
    url: str, conns: int, seconds: float, host_header: str | None = None
) -> LoadResult:
    """``conns`` keep-alive HTTP/1.1 connections, each sending its next request on each answer."""
    host, port, request = _split_url(url, host_header)
    result = LoadResult()
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        while time.perf_counter() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                result.errors += 1
                await asyncio.sleep(0.01)
                continue
            try:
                while time.perf_counter() < deadline:
                    writer.write(request)
                    status, length = _status_and_length(await reader.readuntil(b"\r\n\r\n"))
                    await reader.readexactly(length)
                    result.requests += 1
                    if not 200 <= status < 400:
                        result.non_2xx += 1
            except (OSError, ValueError, asyncio.IncompleteReadError):
                result.errors += 1
            finally:
                writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(conns)))
    result.seconds = time.perf_counter() - started
    return result


def raw_latency(url: str, seconds: float, host_header: str | None = None) -> LoadResult:
    """One keep-alive connection, one request at a time, each timed with perf_counter()."""
    host, port, request = _split_url(url, host_header)
    result = LoadResult()
    times: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            status, length = _status_and_length(head + b"\r\n")
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]
            times.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                result.non_2xx += 1
    result.seconds = time.perf_counter() - started
    result.requests = len(times)
    if times:
        result.p50_ms = percentile(times, 50)
        result.p99_ms = percentile(times, 99)
        result.max_ms = max(times)
    return result


class Load:
    """The load generator: wrk when installed, else raw asyncio sockets, or httpx on request."""

    def __init__(self, client: str) -> None:
        if client == "auto":
            client = "wrk" if shutil.which("wrk") else "raw"
        if client == "wrk" and not shutil.which("wrk"):
            raise SystemExit("wrk is not on PATH (apt-get install wrk)")
        self.client = client
        if client == "wrk":
            version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
            self.name = (version.splitlines() or ["wrk"])[0].split(" [")[0].strip()
        elif client == "raw":
            why = "" if shutil.which("wrk") else ", wrk not found"
            self.name = f"asyncio raw sockets, keep-alive HTTP/1.1 (in this process{why})"
        else:
            import httpx

            self.name = (
                f"asyncio + httpx {httpx.__version__} (client-bound: figures are the client's)"
            )

    # ``host``: the Host header to send instead of the URL's host:port (callbox serve routes
    # environments by Host, while the connection goes to 127.0.0.1).

    def throughput(self, url: str, conns: int, seconds: int, host: str | None = None) -> LoadResult:
        if self.client == "wrk":
            return wrk(url, threads=2, conns=conns, seconds=seconds, host=host)
        if self.client == "raw":
            return run_async(_raw_load(url, conns, seconds, host))
        return httpx_load(url, conns, seconds, host)

    def latency(self, url: str, seconds: int, host: str | None = None) -> LoadResult:
        if self.client == "wrk":
            return wrk(url, threads=1, conns=1, seconds=seconds, latency=True, host=host)
        if self.client == "raw":
            return raw_latency(url, seconds, host)
        return httpx_latency(url, seconds, host)


# --------------------------------------------------------------------------------------------
# 1,000 concurrent sleepers
# --------------------------------------------------------------------------------------------


@dataclass
class BurstResult:
    client: str
    wall_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + sum(
            self.errors.values()
        )


async def _raw_burst(port: int, path: str, count: int) -> BurstResult:
    result = BurstResult(client="raw asyncio sockets (HTTP/1.1, Connection: close)")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one() -> None:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(30):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                data = await reader.read()
                writer.close()
            status = int(data.split(b" ", 2)[1])
            result.statuses[status] += 1
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            result.errors[type(exc).__name__] += 1
        result.latencies.append(time.perf_counter() - t0)
        result.slowest_s = max(result.slowest_s, result.latencies[-1])

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    result.wall_s = time.perf_counter() - started
    return result


async def _httpx_burst(port: int, path: str, count: int) -> BurstResult:
    import httpx

    result = BurstResult(client=f"httpx {httpx.__version__} AsyncClient, 1,000 connections")
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        url = f"http://127.0.0.1:{port}{path}"

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                response = await client.get(url)
                result.statuses[response.status_code] += 1
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] += 1
            result.latencies.append(time.perf_counter() - t0)
            result.slowest_s = max(result.slowest_s, result.latencies[-1])

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        result.wall_s = time.perf_counter() - started
    return result


def run_async(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def burst(kind: str, server_pid: int, port: int) -> tuple[BurstResult, MemorySampler]:
    with sampling(server_pid) as sampler:
        if kind == "raw":
            result = run_async(_raw_burst(port, "/sleep", SLEEPERS))
        else:
            result = run_async(_httpx_burst(port, "/sleep", SLEEPERS))
        time.sleep(0.15)  # one more sample after the last answer
    return result, sampler


def show_burst(result: BurstResult, sampler: MemorySampler) -> None:
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result.statuses.items()))
    errors = ", ".join(f"{e}: {n}" for e, n in sorted(result.errors.items())) or "none"
    say(f"  client: {result.client}")
    say(f"  wall time {result.wall_s:.3f} s (slowest single request {result.slowest_s:.3f} s)")
    if result.latencies:
        lat = result.latencies
        within = sum(1 for x in lat if x <= TARGET_SLEEP_WALL_S)
        say(
            f"  per-request time: min {min(lat):.3f} s, p50 {percentile(lat, 50):.3f} s, "
            f"p90 {percentile(lat, 90):.3f} s, max {max(lat):.3f} s; "
            f"{within} of {len(lat)} answered within {TARGET_SLEEP_WALL_S} s"
        )
    say(f"  statuses {{{statuses}}}; client errors: {errors}; failures {result.failures}")
    say(
        f"  peak memory (server + zygote + workers, sampled every 100 ms, {sampler.samples} "
        f"samples, up to {sampler.peak_processes} processes): RSS sum "
        f"{mb(sampler.peak_rss_kb)}, PSS sum {mb(sampler.peak_pss_kb)}"
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {cpus} ({model or platform.machine()}), {platform.system()} {platform.release()}"


def git_state() -> str:
    """The commit being measured, and whether src/ differs from it."""
    repo = BENCH.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if not head:
        return "unknown (not a git checkout)"
    return f"{head}{' (src/ has uncommitted changes)' if dirty else ''}"


def make_project(root: Path) -> Path:
    project = root / "project"
    (project / "functions").mkdir(parents=True)
    (project / "functions" / "hello.py").write_text(HELLO)
    (project / "functions" / "hello-async.py").write_text(HELLO_ASYNC)
    (project / "functions" / "sleep.py").write_text(SLEEP)
    return project


def bare_command(python: str, port: int) -> list[str]:
    """bare_app.py under uvicorn with the HTTP stack callbox uses (httptools, uvloop)."""
    return [
        python,
        "-m",
        "uvicorn",
        "bare_app:app",
        "--app-dir",
        str(BENCH),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env.update(extra)
    return env


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="shorter durations (about 30 s instead of 75 s)"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "raw", "httpx"],
        default="auto",
        help="load generator for requests/s and latency: auto = wrk when installed, else raw "
        "asyncio sockets; httpx is slower than the servers it measures (see bench/README.md)",
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
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of both callbox servers, e.g. CALLBOX_MAX_WORKERS=1",
    )
    args = parser.parse_args()
    d = QUICK if args.quick else FULL
    python = args.python
    extra_env = dict(item.split("=", 1) for item in args.server_env)

    probe = subprocess.run(
        [python, "-c", "import callbox, uvicorn, sys; print(callbox.__version__, sys.version)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        say(f"{python} cannot import callbox and uvicorn; run with the project's .venv python.")
        return 2
    callbox_version, server_python = probe.stdout.strip().split(" ", 1)

    raise_fd_limit()
    load = Load(args.client)
    now = datetime.datetime.now().astimezone()
    say(f"callbox benchmark, {now:%Y-%m-%d %H:%M:%S %Z}{' (--quick)' if args.quick else ''}")
    say(f"machine: {machine()}")
    say(f"python: {server_python.split()[0]} ({python}); callbox {callbox_version}")
    say(f"load generator: {load.name}")
    say(f"source: {git_state()}")
    if extra_env:
        say(f"extra server environment: {extra_env}")

    cpus = len(os.sched_getaffinity(0))
    busy = wait_quiet(args.wait_quiet, cpus)
    say(f"before start: machine {busy:.0f} % busy over 1 s, load average {loadavg()}")

    workdir = Path(tempfile.mkdtemp(prefix="callbox-bench-"))
    procs = Processes(workdir)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(d, python, load, workdir, procs, cpus, extra_env)
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


def run(
    d: Durations,
    python: str,
    load: Load,
    workdir: Path,
    procs: Processes,
    cpus: int,
    extra_env: dict[str, str],
) -> int:
    project = make_project(workdir)
    busy_start, wall_start = machine_busy_seconds()
    figures: dict[str, Any] = {}

    # -- 1. start everything, one at a time (a start competing with another would be slower) --
    say()
    say("== 1. start (process launch -> first 200) ==")
    bare_port, a_port, b_port = free_port(), free_port(), free_port()
    t0 = time.perf_counter()
    bare = procs.launch("bare", bare_command(python, bare_port), clean_env())
    bare_cold = wait_ready(procs, bare, bare_port, "/") - t0
    say(f"  bare uvicorn     :{bare_port}  {bare_cold * 1000:7.0f} ms")

    callbox_args = [python, "-m", "callbox", "start", str(project), "--host", "127.0.0.1"]
    t0 = time.perf_counter()
    server_a = procs.launch(
        "callbox-a", [*callbox_args, "--port", str(a_port)], clean_env(**extra_env)
    )
    cold_a = wait_ready(procs, server_a, a_port, "/hello") - t0
    say(f"  callbox start    :{a_port}  {cold_a * 1000:7.0f} ms  (default config)")

    t0 = time.perf_counter()
    server_b = procs.launch(
        "callbox-b",
        [*callbox_args, "--port", str(b_port)],
        clean_env(**{**extra_env, "CALLBOX_CONCURRENCY_LIMIT": str(SLEEP_LIMIT)}),
    )
    cold_b = wait_ready(procs, server_b, b_port, "/hello") - t0
    say(
        f"  callbox start    :{b_port}  {cold_b * 1000:7.0f} ms  "
        f"(CALLBOX_CONCURRENCY_LIMIT={SLEEP_LIMIT})"
    )
    figures["cold_ms"] = [cold_a * 1000, cold_b * 1000]

    bare_url = f"http://127.0.0.1:{bare_port}/"
    a_url = f"http://127.0.0.1:{a_port}/hello"
    b_url = f"http://127.0.0.1:{b_port}/hello"

    # -- 2. throughput at 50 connections ------------------------------------------------------
    procs.check_alive()
    say()
    say(f"== 2. requests/s at 50 connections ({d.rps} s each, after a {d.warmup} s warm-up) ==")
    say(
        "  callbox runs with CALLBOX_CONCURRENCY_LIMIT="
        f"{SLEEP_LIMIT}: the default limit (30) is below 50 connections"
    )
    load.throughput(bare_url, 50, d.warmup)
    with CpuMeter(bare.pid) as bare_cpu:
        bare_rps = load.throughput(bare_url, 50, d.rps)
    load.throughput(b_url, 50, d.warmup)
    with CpuMeter(server_b.pid) as cb_cpu:
        cb_rps = load.throughput(b_url, 50, d.rps)
    b_async_url = f"http://127.0.0.1:{b_port}/hello-async"
    load.throughput(b_async_url, 50, d.warmup)
    with CpuMeter(server_b.pid) as cb_async_cpu:
        cb_async_rps = load.throughput(b_async_url, 50, d.rps)
    procs.check_alive()
    for name, r in (
        ("bare uvicorn", bare_rps),
        ("callbox /hello", cb_rps),
        ("callbox /hello-async", cb_async_rps),
    ):
        say(
            f"  {name:20} {r.rps:9.0f} req/s  ({r.requests} requests in {r.seconds:.2f} s, "
            f"non-2xx {r.non_2xx}, socket errors {r.errors})"
        )
    ratio = cb_rps.ok_rps / bare_rps.ok_rps if bare_rps.ok_rps else 0.0
    ratio_async = cb_async_rps.ok_rps / bare_rps.ok_rps if bare_rps.ok_rps else 0.0
    say(
        f"  ratio callbox / bare (2xx only): {ratio * 100:.1f} % (/hello, a plain def), "
        f"{ratio_async * 100:.1f} % (/hello-async)"
    )
    n_workers = len(workers_of(server_b.pid))
    say(f"  callbox processes after the load: server + zygote + {n_workers} worker(s)")
    say("  CPU time per request (from /proc/<pid>/stat, over the measured run):")
    for name, meter, r in (
        ("bare uvicorn", bare_cpu, bare_rps),
        ("callbox /hello", cb_cpu, cb_rps),
        ("callbox /hello-async", cb_async_cpu, cb_async_rps),
    ):
        per = 1e6 / r.requests if r.requests else 0.0
        workers = f", workers {meter.workers_s * per:3.0f} us" if meter is not bare_cpu else ""
        say(
            f"    {name:20} server {meter.server_s * per:4.0f} us{workers}, load generator "
            f"{meter.load_s * per:.0f} us  (server busy {meter.server_s / r.seconds * 100:.0f} %"
            f" of one CPU)"
        )

    limited = load.throughput(a_url, 50, d.limit_check)
    share = limited.non_2xx / limited.requests * 100 if limited.requests else 0.0
    say(
        f"  for reference, the default limit of 30 at 50 connections: {limited.rps:.0f} req/s, "
        f"{share:.0f} % of them non-2xx (429 Too Many Requests)"
    )

    # -- 3. latency at 1 connection -----------------------------------------------------------
    procs.check_alive()
    say()
    say(f"== 3. latency at 1 connection ({d.latency} s each) ==")
    lat: dict[str, LoadResult] = {}
    for name, url in (
        ("bare uvicorn", bare_url),
        ("callbox /hello", a_url),
        ("callbox /hello-async", f"http://127.0.0.1:{a_port}/hello-async"),
    ):
        load.latency(url, 1)
        r = lat[name] = load.latency(url, d.latency)
        procs.check_alive()
        say(
            f"  {name:21} p50 {r.p50_ms or 0:6.3f} ms  p99 {r.p99_ms or 0:6.3f} ms  "
            f"max {r.max_ms or 0:7.3f} ms  ({r.rps:.0f} req/s, non-2xx {r.non_2xx})"
        )
    p50_delta = (lat["callbox /hello"].p50_ms or 0) - (lat["bare uvicorn"].p50_ms or 0)
    say(f"  p50 difference callbox /hello - bare: {p50_delta:+.3f} ms")

    # -- 5. memory of the idle server (before the file changes replace the worker) -----------
    procs.check_alive()
    say()
    say("== 5. memory, idle (server A after the latency runs) ==")
    time.sleep(0.5)
    zygote = zygote_of(server_a.pid)
    idle_workers = workers_of(server_a.pid)
    rows = [("bare uvicorn (reference)", bare.pid), ("callbox server (uvicorn)", server_a.pid)]
    if zygote:
        rows.append(("zygote (warm parent)", zygote))
    if idle_workers:
        rows.append((f"one idle worker (of {len(idle_workers)})", idle_workers[0]))
    memory: dict[str, tuple[int | None, int | None]] = {}
    for name, pid in rows:
        memory[name] = (rss_kb(pid), pss_kb(pid))
        say(f"  {name:26} pid {pid:>7}  RSS {mb(memory[name][0]):>9}  PSS {mb(memory[name][1]):>9}")
    figures["server_rss"] = memory["callbox server (uvicorn)"][0]
    worker_mem = memory.get(f"one idle worker (of {len(idle_workers)})", (None, None))

    # -- 4. first request after a file change -------------------------------------------------
    procs.check_alive()
    say()
    say(f"== 4. first request after a file change ({d.changes} edits of functions/hello.py) ==")
    change_ms: list[float] = []
    stale = 0
    hello = project / "functions" / "hello.py"
    for i in range(1, d.changes + 1):
        time.sleep(0.3)
        expected = f"Hello World, edit {i}"
        hello.write_text(f'def handler(context, event, callback):\n    return "{expected}"\n')
        t0 = time.perf_counter()
        status, body = http_get(a_port, "/hello")
        elapsed = (time.perf_counter() - t0) * 1000
        change_ms.append(elapsed)
        if status != 200 or body.decode() != expected:
            stale += 1
        say(f"  edit {i}: {elapsed:7.1f} ms  -> {status} {body.decode(errors='replace')!r}")
    status, body = http_get(a_port, "/hello")
    say(
        f"  next request after the last edit (worker warm): {status} "
        f"{body.decode(errors='replace')!r}"
    )
    say(
        f"  median {statistics.median(change_ms):.1f} ms, max {max(change_ms):.1f} ms"
        f"{f', {stale} answers did not show the edit' if stale else ''}"
    )

    # -- 6. 1,000 concurrent sleepers -----------------------------------------------------------
    procs.check_alive()
    say()
    say(
        f"== 6. {SLEEPERS:,} concurrent requests to an async function sleeping 1 s "
        f"(server B, CALLBOX_CONCURRENCY_LIMIT={SLEEP_LIMIT}) =="
    )
    status, _ = http_get(b_port, "/sleep")
    base = [server_b.pid, *descendants(server_b.pid)]
    say(
        f"  one request first: {status}; memory before the burst: RSS sum "
        f"{mb(sum(rss_kb(p) or 0 for p in base))} in {len(base)} processes"
    )
    bursts: list[tuple[BurstResult, MemorySampler]] = []
    kinds = ["raw", "httpx"] if d.httpx_sleepers else ["raw"]
    for kind in kinds:
        time.sleep(0.5)
        result, sampler = burst(kind, server_b.pid, b_port)
        bursts.append((result, sampler))
        show_burst(result, sampler)

    procs.check_alive()
    busy_end, wall_end = machine_busy_seconds()
    own = os.times()
    ours = procs.cpu_seconds() + own.user + own.system + own.children_user + own.children_system
    others = max(0.0, busy_end - busy_start - ours)
    say()
    say(
        f"CPU used outside this benchmark during the run: {others:.1f} s over "
        f"{wall_end - wall_start:.0f} s on {cpus} CPUs "
        f"({100 * others / (wall_end - wall_start) / cpus:.0f} % of the machine); "
        f"load average {loadavg()}"
    )

    # -- 7. summary ---------------------------------------------------------------------------
    procs.check_alive()
    say()
    say("== summary (targets from issue 2) ==")
    main_burst, main_sampler = bursts[0]
    peak_mb = main_sampler.peak_rss_kb / 1024
    lines = [
        (
            "req/s at 50 connections",
            f"bare {bare_rps.ok_rps:.0f}, callbox {cb_rps.ok_rps:.0f} ({ratio * 100:.1f} %); "
            f"async def {cb_async_rps.ok_rps:.0f} ({ratio_async * 100:.1f} %)",
            ">= 60 % of bare",
            verdict(ratio >= TARGET_RATIO),
        ),
        (
            "p50 at 1 connection",
            f"bare {lat['bare uvicorn'].p50_ms or 0:.3f} ms, callbox "
            f"{lat['callbox /hello'].p50_ms or 0:.3f} ms ({p50_delta:+.3f} ms)",
            "within 1 ms of bare",
            verdict(p50_delta <= TARGET_P50_DELTA_MS),
        ),
        (
            "p99 at 1 connection",
            f"bare {lat['bare uvicorn'].p99_ms or 0:.3f} ms, callbox "
            f"{lat['callbox /hello'].p99_ms or 0:.3f} ms",
            "-",
            "",
        ),
        (
            "cold start to first 200",
            f"bare {bare_cold * 1000:.0f} ms, callbox "
            + ", ".join(f"{x:.0f}" for x in figures["cold_ms"])
            + " ms",
            "-",
            "",
        ),
        (
            "first request after a change",
            f"median {statistics.median(change_ms):.1f} ms, max {max(change_ms):.1f} ms",
            "<= 50 ms",
            verdict(statistics.median(change_ms) <= TARGET_CHANGE_MS and not stale)
            + ("" if max(change_ms) <= TARGET_CHANGE_MS else " (max over)"),
        ),
        (
            "memory, idle",
            f"server RSS {mb(figures['server_rss'])}, worker RSS {mb(worker_mem[0])} "
            f"/ PSS {mb(worker_mem[1])}",
            "-",
            "",
        ),
        (
            "1,000 sleepers: wall time",
            f"{main_burst.wall_s:.3f} s",
            "<= 1.5 s",
            verdict(main_burst.wall_s <= TARGET_SLEEP_WALL_S),
        ),
        (
            "1,000 sleepers: errors",
            f"{main_burst.failures}",
            "0",
            verdict(main_burst.failures == 0),
        ),
        (
            "1,000 sleepers: peak memory",
            f"RSS sum {peak_mb:.0f} MB (PSS sum {main_sampler.peak_pss_kb / 1024:.0f} MB)",
            "<= 1 GB",
            verdict(peak_mb <= TARGET_SLEEP_MEM_MB),
        ),
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(4)]
    header = ("figure", "measured", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    say("  " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say("  " + "-+-".join("-" * w for w in widths))
    for row in lines:
        say("  " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    say(f"  load generator: {load.name}; sleeper client: {main_burst.client}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
