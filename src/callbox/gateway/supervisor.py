"""The zygote process and the Unix socket that worker processes connect back to.

One supervisor per server. ``spawn(spec)`` asks the zygote to fork a worker for a build and
returns the worker once it said hello on the socket. A zygote that dies is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import orjson

from callbox.sandbox.policy import Sandbox, SandboxUnavailable, Settings
from callbox.worker import protocol
from callbox.worker.frames import (
    RUNTIME_NODE,
    RUNTIME_PYTHON,
    CancelledFrame,
    ExitedReport,
    Frame,
    GatewayFrame,
    InvokeFrame,
    KillCommand,
    LogLine,
    ResultFrame,
    SpawnCommand,
    WorkerSpec,
)

log = logging.getLogger("callbox.workers")

SPAWN_TIMEOUT = 15.0

# What an invocation's future resolves to: its result, the body, and the body's size when it
# was over the limit (then skipped: the body is empty), else None.
Received = tuple[ResultFrame, bytes, int | None]


def _dumps(frame: Frame) -> bytes:
    """Frames to workers, by orjson: the same JSON, several times faster than the standard
    library's on the request path (a hello world's frame: about 0.5 against 4 microseconds)."""
    try:
        return orjson.dumps(frame, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # what orjson refuses (deep nesting, huge integers, ...)
        return protocol.dumps(frame)  # ... gets the standard library's reading, or error


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # lone surrogates, NaN, huge integers: valid for json
        return json.loads(raw)


class SpawnError(Exception):
    """A worker process could not be started."""


class Worker:
    """The gateway's handle on one worker process: send invocations, receive frames."""

    def __init__(
        self,
        worker_id: str,
        pid: int,
        transport: asyncio.Transport,
        max_body: int,
        kill: Callable[[str], None] = lambda _id: None,
    ) -> None:
        self.id = worker_id
        self.pid = pid
        self.runtime: str = RUNTIME_PYTHON  # as its hello says
        self.transport = transport
        self.outbox = protocol.Outbox(transport)
        self.loop = asyncio.get_running_loop()  # asking each time costs a getpid() system call
        self.max_body = max_body
        self.pending: dict[str, asyncio.Future[Received]] = {}
        self.cancel_acks: dict[str, asyncio.Future[CancelledFrame]] = {}
        self.retired = False
        self.dead = False
        self.exit_status: str | None = None
        self.exited = asyncio.Event()
        self.on_late_log: Callable[[str, LogLine], None] = lambda _id, _line: None
        self.on_idle: Callable[[Worker], None] = lambda _w: None
        self.on_dead: Callable[[Worker], None] = lambda _w: None
        self._lost_task: asyncio.Task[None] | None = None
        self._kill = kill  # asks the warm parent, which knows the process (a pid may be reused)

    @property
    def load(self) -> int:
        # An unanswered cancel counts: until it is answered the worker's loop may be blocked.
        return len(self.pending) + len(self.cancel_acks)

    @property
    def usable(self) -> bool:
        return not (self.retired or self.dead or self.suspect)

    @property
    def suspect(self) -> bool:
        """A cancel is unanswered: its event loop may be blocked, so give it no new work."""
        return bool(self.cancel_acks)

    def invoke(self, frame: InvokeFrame) -> asyncio.Future[Received]:
        future: asyncio.Future[Received] = self.loop.create_future()
        if self.dead:
            future.set_exception(WorkerLost("The worker process exited before the invocation."))
            return future
        try:
            data = protocol.encode(frame, b"", _dumps)
        except RecursionError:
            raise ValueError("the event is nested too deeply to be sent to a worker") from None
        self.pending[frame["id"]] = future
        self.outbox.put(data)
        return future

    def cancel(self, invocation_id: str) -> asyncio.Future[CancelledFrame]:
        """Ask the worker to stop an invocation; the future resolves with its ``cancelled``."""
        ack: asyncio.Future[CancelledFrame] = self.loop.create_future()
        self.cancel_acks[invocation_id] = ack
        self.forget(invocation_id)
        if not self.dead:
            frame: GatewayFrame = {"type": "cancel", "id": invocation_id}
            self.outbox.put(protocol.encode(frame, b"", _dumps))
        return ack

    def forget(self, invocation_id: str) -> None:
        future = self.pending.pop(invocation_id, None)
        if future is not None and not future.done():
            future.cancel()
        if not self.load:
            self.on_idle(self)

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        self._kill(self.id)
        self.transport.close()

    def connection_lost(self, exc: BaseException) -> None:
        """The socket closed, or sent what is not a frame: every invocation it held fails."""
        if self._lost_task is None:
            self._lost_task = asyncio.ensure_future(self._lost(exc))

    def oversize(self, frame: Frame, size: int) -> None:
        """A frame whose body was over the limit (skipped): only a result may have a body."""
        self.dispatch(frame, b"", size)

    def dispatch(self, frame: Frame, body: bytes, oversize: int | None = None) -> None:
        """One frame from the worker (``frames.WorkerFrame``); other kinds are ignored."""
        if frame["type"] == "result":
            retire = frame["retire"]  # read first: a frame without it settles nothing
            future = self.pending.pop(frame["id"], None)
            if future is not None and not future.done():
                future.set_result((frame, body, oversize))
            if retire:
                self.retired = True
            if not self.load:
                self.on_idle(self)
        elif frame["type"] == "cancelled":
            if frame["thread_running"]:
                self.retired = True  # before it looks idle: no new work for a stuck thread
            ack = self.cancel_acks.pop(frame["id"], None)
            if ack is not None and not ack.done():
                ack.set_result(frame)
            if not self.load:
                self.on_idle(self)
        elif frame["type"] == "log":
            line: LogLine = {
                "level": frame["level"],
                "message": frame["message"],
                "time": frame["time"],
            }
            self.on_late_log(frame["id"], line)
        elif frame["type"] == "retire":  # a handler thread outlived the execution limit
            self.retired = True
            if not self.load:
                self.on_idle(self)

    async def _lost(self, exc: BaseException) -> None:
        was_killed = self.dead
        self.dead = True
        if not was_killed:
            # The zygote reports how the process ended; give that report a moment to arrive.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.exited.wait(), 0.5)
        how = self.exit_status or "the connection was lost"
        error = WorkerLost(f"The worker process running this function exited unexpectedly ({how}).")
        for future in list(self.pending.values()) + list(self.cancel_acks.values()):
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        self.cancel_acks.clear()
        self.transport.close()
        self.on_dead(self)


class WorkerLost(Exception):
    """The worker process died while it held the invocation."""


class _Connection(asyncio.Protocol):
    """One worker's socket: its hello, then every frame straight to its Worker. No reader task
    or stream: a result settles its invocation in the event-loop turn it arrives in."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.transport: asyncio.Transport | None = None
        self.worker: Worker | None = None
        self.frames = protocol.FrameReader(0, self._hello, self._refuse, _loads)
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a Unix stream socket's
        self._timer = asyncio.get_running_loop().call_later(SPAWN_TIMEOUT, transport.close)

    def _hello(self, hello: Frame, _body: bytes) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        worker = self.supervisor._hello(self, hello)
        if worker is None:
            self._refuse()
            return
        self.worker = worker
        self.frames.max_body = worker.max_body
        self.frames.on_frame = worker.dispatch
        self.frames.on_oversize = worker.oversize

    def _refuse(self, *_args: Any) -> None:
        self.frames.on_frame = _ignore
        self.frames.on_oversize = _ignore
        assert self.transport is not None
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.frames.feed(data)
        except (protocol.ProtocolError, LookupError, TypeError, ValueError) as exc:
            # Not a frame, or a frame whose fields are not what frames.py says (user code in
            # the worker can write to its socket): the worker is dropped, the gateway goes on.
            self._refuse()
            if self.worker is not None:
                log.warning("Worker %s broke the frame protocol: %r", self.worker.id, exc)
                self.worker.connection_lost(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.worker is not None:
            how = "the peer closed the connection mid-frame" if self.frames.pending else ""
            self.worker.connection_lost(exc or EOFError(how or "the peer closed the connection"))


def _ignore(*_args: Any) -> None:
    """What a refused connection does with the frames still in its buffer."""


class Supervisor:
    def __init__(
        self, *, max_body: int, sandbox: Sandbox | None = None, python: str = sys.executable
    ) -> None:
        self.max_body = max_body
        self.sandbox = sandbox or Sandbox(Settings(mode="off"))
        self.python = python
        self._dir = Path(tempfile.mkdtemp(prefix="callbox-"))
        self.socket_path = str(self._dir / "workers.sock")
        self._server: asyncio.AbstractServer | None = None
        self._zygote: asyncio.subprocess.Process | None = None
        self._reports: asyncio.Task[None] | None = None
        self._relay: asyncio.Future[None] | None = None
        self._pending: dict[str, asyncio.Future[Worker]] = {}
        self._workers: dict[str, Worker] = {}
        self.started: dict[str, int] = {}  # workers started, by runtime (metrics: cold starts)
        self._stopping = False
        self._zygote_lock = asyncio.Lock()

    def prepare(self) -> None:
        """Set the sandbox up (once; start() does it if nobody did before)."""
        self.sandbox.start()

    async def start(self) -> None:
        await asyncio.to_thread(self.prepare)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            lambda: _Connection(self), path=self.socket_path
        )
        await self._start_zygote()

    async def _start_zygote(self) -> None:
        # The warm parent's environment is what /proc shows of every worker forked from it:
        # the allow list only, never the server's own variables.
        env = self.sandbox.environment(home=tempfile.gettempdir())
        if "PYTHONPATH" in os.environ:  # a source checkout run without installing
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        # Few malloc arenas keep a worker's memory small enough for its cap.
        env["MALLOC_ARENA_MAX"] = "2"
        self._zygote = await asyncio.create_subprocess_exec(
            self.python,
            "-P",  # not the server's working folder on the import path: workers would read it
            "-m",
            "callbox.worker.zygote",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Every worker's fd 1 and 2 too (they are forked from it): relayed line by line,
            # marked, never written straight to the server's output (user code can write there).
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
            # Not in the server's process group: a Ctrl+C to the group must not reach it while
            # its interpreter starts; it ends when the server closes its stdin. (uvloop takes no
            # process_group argument; setpgrp is one system call, safe between fork and exec.)
            preexec_fn=os.setpgrp,
        )
        self._reports = asyncio.ensure_future(self._read_reports(self._zygote))
        assert self._zygote.stderr is not None
        self._relay = asyncio.ensure_future(relay_output(self._zygote.stderr))

    async def spawn(self, spec: WorkerSpec) -> Worker:
        """Start a worker for ``spec`` (``frames.WorkerSpec``) inside its sandbox: the
        spec's ``slot`` picks its uid, its root and site_packages are what it may read."""
        worker_id = uuid.uuid4().hex
        slot = spec["slot"]
        readable = [spec["root"], *spec["site_packages"]]
        if spec["runtime"] == RUNTIME_NODE:
            node = self.node()
            spec = {**spec, "executable": node}
            # Node's installation (the folder above its bin/): what it loads next to itself.
            readable.append(os.path.dirname(os.path.dirname(node)))
        try:
            fences = self.sandbox.fences(
                slot=slot,
                group=f"s{slot}",
                readable=readable,
                memory_mb=spec["memory_limit_mb"],
            )
        except SandboxUnavailable as exc:
            raise SpawnError(str(exc)) from None
        spec = {**spec, "fences": fences.to_dict()}
        future: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._pending[worker_id] = future
        command: SpawnCommand = {
            "op": "spawn",
            "worker_id": worker_id,
            "socket": self.socket_path,
            "spec": spec,
        }
        line = json.dumps(command)
        try:
            async with self._zygote_lock:
                if self._zygote is None or self._zygote.returncode is not None:
                    await self._start_zygote()
                assert self._zygote is not None and self._zygote.stdin is not None
                self._zygote.stdin.write(line.encode() + b"\n")
                await self._zygote.stdin.drain()
            return await asyncio.wait_for(future, SPAWN_TIMEOUT)
        except (TimeoutError, ConnectionError) as exc:
            raise SpawnError(f"a worker process did not start: {exc!r}") from exc
        finally:
            self._pending.pop(worker_id, None)

    def node(self) -> str:
        """The server's ``node`` (found on its PATH when a Node.js worker starts)."""
        found = shutil.which("node")
        if found is None:
            raise SpawnError(
                "this build runs on Node.js, and the server has no `node` on its PATH; "
                "install Node.js 18 or newer on the server and restart it"
            )
        return os.path.realpath(found)

    def _hello(self, connection: _Connection, hello: Frame) -> Worker | None:
        """A worker's first frame: the Worker it is, or None (the connection is refused)."""
        if hello["type"] != "hello":
            return None
        # Checked, unlike later frames: once per worker, and what the Worker is built from.
        worker_id = str(hello.get("worker_id"))
        future = self._pending.get(worker_id)
        if future is None or future.done():
            return None
        try:
            pid = int(hello["pid"])
        except (KeyError, TypeError, ValueError):
            return None
        assert connection.transport is not None
        worker = Worker(worker_id, pid, connection.transport, self.max_body, kill=self._kill)
        worker.runtime = str(hello.get("runtime") or RUNTIME_PYTHON)
        self._workers[worker_id] = worker
        self.started[worker.runtime] = self.started.get(worker.runtime, 0) + 1
        future.set_result(worker)
        return worker

    def workers_by_runtime(self) -> dict[str, int]:
        """Worker processes alive now, by runtime (read by the metrics when scraped)."""
        counts: dict[str, int] = {}
        for worker in list(self._workers.values()):
            if not worker.dead:
                counts[worker.runtime] = counts.get(worker.runtime, 0) + 1
        return counts

    async def _read_reports(self, zygote: asyncio.subprocess.Process) -> None:
        assert zygote.stdout is not None
        async for raw in zygote.stdout:
            try:
                report: ExitedReport = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(report, dict) or report.get("op") != "exited":
                continue
            worker_id = report["worker_id"]
            worker = self._workers.pop(worker_id, None)
            if worker is not None:
                worker.exit_status = report["status"]
                worker.exited.set()
                # Noticed now, even if a process it started still holds its socket open.
                worker.transport.close()
            pending = self._pending.get(worker_id)
            if pending is not None and not pending.done():
                pending.set_exception(
                    SpawnError(f"the worker exited at start ({report['status']})")
                )
        if self._stopping:
            return
        # SIGTERM or SIGINT sent to the whole process group stops the server too: not news.
        if await zygote.wait() in (-signal.SIGTERM, -signal.SIGINT):
            return
        log.warning("The worker parent process exited; it will be started again on demand.")

    def _kill(self, worker_id: str) -> None:
        zygote = self._zygote
        if zygote is None or zygote.stdin is None or zygote.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            command: KillCommand = {"op": "kill", "worker_id": worker_id}
            line = json.dumps(command)
            zygote.stdin.write(line.encode() + b"\n")

    async def stop(self) -> None:
        self._stopping = True
        for worker in list(self._workers.values()):
            worker.kill()
        if self._zygote is not None and self._zygote.returncode is None:
            assert self._zygote.stdin is not None
            self._zygote.stdin.close()  # EOF: the zygote kills what is left and exits
            try:
                await asyncio.wait_for(self._zygote.wait(), 5)
            except TimeoutError:
                self._zygote.kill()
                await self._zygote.wait()
        if self._reports is not None:
            self._reports.cancel()
        if self._relay is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._relay, 1)  # what was written before the end
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self._dir, ignore_errors=True)


# A relayed line is cut here: the server's log is not a place for megabytes of one line.
RELAYED_LINE_MAX = 2000


async def relay_output(stream: asyncio.StreamReader) -> None:
    """Log what workers and the warm parent write to their fd 1 and 2 below any runtime (a
    raw ``os.write``, a crash of the interpreter): each line marked as theirs, cut and with
    control characters escaped, so no function can write a line that passes for the server's
    (an access log line, a terminal escape)."""
    pending = b""
    while chunk := await stream.read(65536):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            _relay_line(line)
        if len(pending) > RELAYED_LINE_MAX:
            _relay_line(pending)
            pending = b""
    if pending:
        _relay_line(pending)


def _relay_line(raw: bytes) -> None:
    text = raw[:RELAYED_LINE_MAX].decode("utf-8", "replace").rstrip("\r")
    if not text.strip():
        return
    shown = "".join(c if c.isprintable() or c == "\t" else f"\\x{ord(c):02x}" for c in text)
    log.warning("worker output: %s", shown)
