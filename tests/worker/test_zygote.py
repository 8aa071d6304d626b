"""The warm parent (zygote): a spawn command it cannot carry out is reported as that worker's exit,
and never takes the workers already running down with it.

Driven directly (``python -m callbox.worker.zygote`` with a Unix socket of the test's own), and
through the Supervisor that the gateway uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor
from callbox.toolkit.project import Layout, discover
from callbox.worker import protocol
from callbox.worker.frames import InvokeFrame

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_worker"
DEPLOYMENT = Deployment(
    build_key="unit-zygote", service_key="unit", root=ROOT, routes=discover(Layout.find(ROOT))
)
SPEC = DEPLOYMENT.worker_spec(memory_limit_mb=256, debug_errors=False, threads=4)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


class Zygote:
    """``python -m callbox.worker.zygote`` with the socket its workers say hello on."""

    def __init__(self, process: asyncio.subprocess.Process, socket_path: str) -> None:
        self.process = process
        self.socket_path = socket_path
        self.hellos: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connections: list[asyncio.StreamWriter] = []
        self.pids: list[int] = []

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello, _ = await protocol.read_frame(reader, 0)
        self.connections.append(writer)  # kept open: a worker whose socket closes exits
        await self.hellos.put(hello)

    async def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def spawn(self, worker_id: str) -> int:
        """Spawn a worker; returns its pid once it said hello."""
        command = {"op": "spawn", "worker_id": worker_id, "socket": self.socket_path, "spec": SPEC}
        await self.send(json.dumps(command).encode())
        hello = await asyncio.wait_for(self.hellos.get(), 15)
        assert hello["worker_id"] == worker_id
        self.pids.append(int(hello["pid"]))
        return self.pids[-1]

    async def report(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 10)
        assert line, "the zygote closed its stdout (it exited)"
        return json.loads(line)


@pytest_asyncio.fixture(loop_scope="module")
async def zygote(tmp_path: Path) -> AsyncIterator[Zygote]:
    socket_path = str(tmp_path / "workers.sock")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "callbox.worker.zygote",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    zygote = Zygote(process, socket_path)
    server = await asyncio.start_unix_server(zygote.on_connect, path=socket_path)
    try:
        yield zygote
    finally:
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()  # EOF: the zygote kills its workers and exits
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pid in zygote.pids:  # workers this test started, should the zygote have failed to
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for writer in zygote.connections:
            writer.close()
        server.close()


@pytest.mark.parametrize(
    ("line", "worker_id", "error"),
    [
        (b'{"op": "spawn", "socket": "/nowhere", "spec": {}}', "?", "KeyError('worker_id')"),
        (b"this is not json", "?", "JSONDecodeError"),
        (b"[1, 2, 3]", "?", "TypeError"),
    ],
)
async def test_a_malformed_spawn_is_reported_and_running_workers_live_on(
    zygote: Zygote, line: bytes, worker_id: str, error: str
) -> None:
    running = await zygote.spawn("running")
    await zygote.send(line)
    report = await zygote.report()
    assert report["op"] == "exited"
    assert (report["worker_id"], report["pid"]) == (worker_id, 0)
    assert report["status"].startswith("spawn failed: ")
    assert error in report["status"]
    assert zygote.process.returncode is None
    assert alive(running)
    # The zygote still does its job: the next spawn works, and EOF still ends everything.
    second = await zygote.spawn("second")
    assert alive(running) and alive(second)
    assert zygote.process.stdin is not None
    zygote.process.stdin.close()
    assert await asyncio.wait_for(zygote.process.wait(), 5) == 0
    for pid in (running, second):
        for _ in range(100):
            if not alive(pid):
                break
            await asyncio.sleep(0.02)
        assert not alive(pid), f"worker {pid} outlived its zygote"


async def test_a_bad_line_to_the_supervisors_zygote_leaves_its_workers_serving(
    supervisor: Supervisor,
) -> None:
    worker = await supervisor.spawn(SPEC)
    try:
        zygote = supervisor._zygote
        assert zygote is not None and zygote.stdin is not None
        zygote.stdin.write(b'{"op": "spawn", "spec": {}}\n')
        await zygote.stdin.drain()
        other = await supervisor.spawn(SPEC)  # the zygote read the bad line before this one
        try:
            assert supervisor._zygote is zygote and zygote.returncode is None
            assert not worker.dead and alive(worker.pid)
            frame: InvokeFrame = {
                "type": "invoke",
                "id": "RQ-zygote",
                "path": "/sync_return",
                "context": {},
                "event": {},
                "timeout": 5.0,
            }
            header, body, _ = await asyncio.wait_for(worker.invoke(frame), 5)
            assert header["status"] == 200
            assert json.loads(body)["pid"] == worker.pid
        finally:
            other.kill()
    finally:
        worker.kill()
