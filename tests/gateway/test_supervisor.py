"""The supervisor: what the processes that run users' code inherit from the server, and the
gateway's side of the worker socket (hello, frames in any chunking, contract breaches)."""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from callbox.gateway.supervisor import Supervisor, Worker, WorkerLost
from callbox.worker import protocol
from callbox.worker.frames import InvokeFrame, LogLine


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ")
async def test_workers_inherit_no_server_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # From the review: workers (any tenant's code) inherited the server's whole environment,
    # CALLBOX_AUTH_TOKEN and CALLBOX_SECRET_KEY included. Workers are forks of the zygote, so
    # its environment (what /proc shows of every worker) is an allow list.
    monkeypatch.setenv("CALLBOX_AUTH_TOKEN", "b" * 32)
    monkeypatch.setenv("CALLBOX_SECRET_KEY", "k" * 44)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("CALLBOX_UNIT_HARMLESS", "x")
    monkeypatch.setenv("PGPASSWORD", "db-secret")  # any other server variable: not passed on
    monkeypatch.setenv("TZ", "Europe/Paris")  # on the allow list
    supervisor = Supervisor(max_body=1024)
    await supervisor.start()
    try:
        assert supervisor._zygote is not None
        raw = Path(f"/proc/{supervisor._zygote.pid}/environ").read_bytes()
    finally:
        await supervisor.stop()
    env = dict(entry.split("=", 1) for entry in raw.decode().split("\0") if entry)
    assert [name for name in env if name.startswith(("CALLBOX_", "TWILIO_"))] == []
    assert "PGPASSWORD" not in env
    assert env["TZ"] == "Europe/Paris" and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["MALLOC_ARENA_MAX"] == "2"


# --- the worker socket, driven by a fake worker (frames.py from the gateway's side) ---------


class FakeWorker:
    """A connection to the supervisor's socket that says what the test wants."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, supervisor: Supervisor) -> FakeWorker:
        reader, writer = await asyncio.open_unix_connection(supervisor.socket_path)
        return cls(reader, writer)

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        self.writer.write(protocol.encode(header, body))  # type: ignore[arg-type]

    async def closed_by_gateway(self) -> bool:
        """Whether the gateway closed the socket (within 3 s; what it sent before is read)."""
        await asyncio.wait_for(self.reader.read(), 3)
        return self.reader.at_eof()


def expect_hello(supervisor: Supervisor, worker_id: str) -> asyncio.Future[Worker]:
    """What spawn() waits on once it asked the zygote: the hello of ``worker_id``."""
    future: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
    supervisor._pending[worker_id] = future
    return future


def hello(worker_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "hello", "worker_id": worker_id, "pid": 4242, "runtime": "node", **fields}


def invoke_frame(invocation_id: str) -> InvokeFrame:
    return {
        "type": "invoke",
        "id": invocation_id,
        "path": "/hello",
        "context": {},
        "event": {},
        "timeout": 5.0,
    }


def result(invocation_id: str, **fields: Any) -> dict[str, Any]:
    frame = {"type": "result", "id": invocation_id, "status": 200, "headers": [], "logs": []}
    return {**frame, "mode": "async", "retire": False, **fields}


@pytest_asyncio.fixture(loop_scope="module")
async def connected(supervisor: Supervisor) -> AsyncIterator[tuple[FakeWorker, Worker]]:
    """A fake worker that said hello, and the gateway's Worker for it."""
    worker_id = uuid.uuid4().hex
    waiting = expect_hello(supervisor, worker_id)
    fake = await FakeWorker.connect(supervisor)
    fake.send(hello(worker_id))
    worker = await asyncio.wait_for(waiting, 3)
    supervisor._pending.pop(worker_id, None)
    yield fake, worker
    fake.writer.close()
    worker.kill()


# The tests below share the module's warm parent (tests/conftest.py), so one loop.
pytestmark_socket = pytest.mark.asyncio(loop_scope="module")


@pytestmark_socket
async def test_a_hello_makes_the_worker_its_fields_say(
    connected: tuple[FakeWorker, Worker],
) -> None:
    _fake, worker = connected
    assert (worker.pid, worker.runtime, worker.usable) == (4242, "node", True)


@pytestmark_socket
@pytest.mark.parametrize(
    "first",
    [
        {"type": "result", "id": "RQ1"},  # not a hello
        {"type": "hello", "worker_id": "nobody-asked", "pid": 1, "runtime": "node"},
        {"type": "hello", "worker_id": "W", "pid": "not a number", "runtime": "node"},
    ],
    ids=["not-hello", "unknown-worker", "bad-pid"],
)
async def test_a_connection_without_a_proper_hello_is_closed(
    supervisor: Supervisor, first: dict[str, Any]
) -> None:
    waiting = expect_hello(supervisor, "W")
    fake = await FakeWorker.connect(supervisor)
    fake.send(first)
    assert await fake.closed_by_gateway()
    assert not waiting.done()
    supervisor._pending.pop("W", None)


@pytestmark_socket
async def test_results_split_and_batched_settle_their_invocations(
    connected: tuple[FakeWorker, Worker],
) -> None:
    fake, worker = connected
    replies = [worker.invoke(invoke_frame(f"RQ{i}")) for i in range(3)]
    data = b"".join(protocol.encode(result(f"RQ{i}"), f"body {i}".encode()) for i in range(3))  # type: ignore[arg-type]
    fake.writer.write(data[:5])
    await fake.writer.drain()
    await asyncio.sleep(0.05)
    assert not any(reply.done() for reply in replies)
    fake.writer.write(data[5:])
    answers = await asyncio.wait_for(asyncio.gather(*replies), 3)
    assert [(h["id"], body, oversize) for h, body, oversize in answers] == [
        (f"RQ{i}", f"body {i}".encode(), None) for i in range(3)
    ]
    assert worker.load == 0


@pytestmark_socket
async def test_an_oversize_result_body_is_skipped_and_its_size_told(
    supervisor: Supervisor, connected: tuple[FakeWorker, Worker]
) -> None:
    fake, worker = connected
    reply = worker.invoke(invoke_frame("RQbig"))
    after = worker.invoke(invoke_frame("RQafter"))
    size = supervisor.max_body + 1
    fake.send(result("RQbig"), b"x" * size)
    fake.send(result("RQafter"), b"ok")
    header, body, oversize = await asyncio.wait_for(reply, 3)
    assert (header["id"], body, oversize) == ("RQbig", b"", size)
    assert (await asyncio.wait_for(after, 3))[1:] == (b"ok", None)


@pytestmark_socket
async def test_log_cancelled_and_retire_frames_reach_the_worker_handle(
    connected: tuple[FakeWorker, Worker],
) -> None:
    fake, worker = connected
    late: list[tuple[str, LogLine]] = []
    worker.on_late_log = lambda invocation_id, line: late.append((invocation_id, line))
    fake.send({"type": "log", "id": "RQ1", "level": "WARN", "message": "late", "time": 1.5})
    ack = worker.cancel("RQ2")
    fake.send({"type": "cancelled", "id": "RQ2", "logs": [], "thread_running": False})
    assert await asyncio.wait_for(ack, 3) == {
        "type": "cancelled",
        "id": "RQ2",
        "logs": [],
        "thread_running": False,
    }
    assert late == [("RQ1", {"level": "WARN", "message": "late", "time": 1.5})]
    assert not worker.retired
    fake.send({"type": "future-kind", "id": "RQ3"})  # unknown: ignored
    fake.send({"type": "retire", "id": "RQ1"})
    await asyncio.wait_for(_until(lambda: worker.retired), 3)
    assert not worker.dead


@pytestmark_socket
@pytest.mark.parametrize(
    "bad",
    [
        protocol.encode({"type": "result", "id": "RQx"}),  # type: ignore[typeddict-item]
        struct.pack(">II", 9, 0) + b"not json!",
        struct.pack(">II", protocol.MAX_HEADER_BYTES + 1, 0),
    ],
    ids=["fields-missing", "not-json", "header-over-limit"],
)
async def test_a_frame_that_breaks_the_contract_drops_the_worker_and_fails_its_work(
    connected: tuple[FakeWorker, Worker], bad: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    fake, worker = connected
    reply = worker.invoke(invoke_frame("RQx"))
    fake.writer.write(bad)
    with pytest.raises(WorkerLost, match="exited unexpectedly"):
        await asyncio.wait_for(reply, 3)
    assert worker.dead
    assert await fake.closed_by_gateway()
    assert "broke the frame protocol" in caplog.text


@pytestmark_socket
async def test_eof_mid_frame_fails_the_invocations_held(
    connected: tuple[FakeWorker, Worker],
) -> None:
    fake, worker = connected
    reply = worker.invoke(invoke_frame("RQcut"))
    fake.writer.write(protocol.encode(result("RQcut"), b"body")[:-2])  # type: ignore[arg-type]
    await fake.writer.drain()
    fake.writer.close()
    with pytest.raises(WorkerLost):
        await asyncio.wait_for(reply, 3)
    assert worker.dead


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
