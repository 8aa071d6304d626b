"""Worker pools, one per build: place invocations on warm workers, enforce the deadline.

A pool starts workers on demand (up to ``max_workers``), sends each invocation to the
least-loaded one, and answers 504 when the deadline passes. A timed-out invocation is cancelled
in its worker; when that cannot be trusted (sync code on a thread, an event loop that does not
answer) the worker is retired: it gets no new work and is killed once its other invocations are
done. ``close()`` drains: workers stop as soon as they are idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from callbox.config import Config
from callbox.errors import BadRequest, CallboxError, FunctionError, TimedOut
from callbox.gateway.supervisor import Received, SpawnError, Supervisor, Worker, WorkerLost
from callbox.worker.frames import (
    RUNTIME_NODE,
    CancelledFrame,
    Event,
    InvokeContext,
    InvokeFrame,
    LogLine,
    WorkerSpec,
)

log = logging.getLogger("callbox.pool")

# Where lines written after an invocation's answer go: (its metadata, the lines).
LateLogSink = Callable[[dict[str, Any], list[LogLine]], None]


@dataclass(slots=True)
class Reply:
    """What a worker answered for one invocation."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    logs: list[LogLine] = field(default_factory=list)
    oversize: int | None = None


# What gets an invocation's end: its reply, or the error that ended it.
Done = Callable[["Reply | CallboxError"], None]


class Pool:
    def __init__(
        self,
        supervisor: Supervisor,
        spec: WorkerSpec,
        config: Config,
        on_late_logs: LateLogSink | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.spec = spec
        self.config = config
        # A Node.js build gets one process: its event loop serves every invocation at once
        # (no handler threads to spread). A Python build, one per core.
        node = spec["runtime"] == RUNTIME_NODE
        self.max_workers = 1 if node else config.max_workers
        self.workers: list[Worker] = []
        self.closed = False
        self._spawning = 0
        self._changed = asyncio.Event()
        self._on_late_logs = on_late_logs or (lambda _meta, _lines: None)
        self._meta: dict[str, dict[str, Any]] = {}  # in the order remembered
        self._waiting: set[asyncio.Task[None]] = set()
        # Invocations sent and their deadlines (loop time), looked at every tick: the execution
        # limit is enforced at most a tick late (a twentieth of it, at most 0.1 s).
        self._due: dict[asyncio.Future[Received], float] = {}
        self._tick = max(0.005, min(0.1, config.execution_timeout / 20))
        self._sweeper: asyncio.TimerHandle | None = None

    async def invoke(
        self,
        invocation_id: str,
        path: str,
        context: InvokeContext,
        event: Event,
        meta: dict[str, Any] | None = None,
    ) -> Reply:
        """Run one invocation within the execution limit; raises TimedOut or FunctionError."""
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        def done(result: Reply | CallboxError) -> None:
            if reply.done():
                return
            if isinstance(result, CallboxError):
                reply.set_exception(result)
            else:
                reply.set_result(result)

        self.submit(invocation_id, path, context, event, meta, done)
        return await reply

    def submit(
        self,
        invocation_id: str,
        path: str,
        context: InvokeContext,
        event: Event,
        meta: dict[str, Any] | None,
        done: Done,
    ) -> None:
        """``invoke`` without a task or a future of its own: the frame leaves now when a
        worker is ready (the common case), and ``done`` gets the reply, or the TimedOut or
        FunctionError that ended it, never before this returns. Raises BadRequest for an
        event that cannot be sent."""
        frame: InvokeFrame = {
            "type": "invoke",
            "id": invocation_id,
            "path": path,
            "context": context,
            "event": event,
            "timeout": self.config.execution_timeout,
        }
        self._remember(invocation_id, meta or {})
        worker = self._ready()
        if worker is not None:
            self._send(worker, frame, worker.loop.time() + self.config.execution_timeout, done)
            return
        deadline = asyncio.get_running_loop().time() + self.config.execution_timeout
        task = asyncio.ensure_future(self._send_when_ready(frame, deadline, done))
        self._waiting.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._waiting.discard)

    async def _send_when_ready(self, frame: InvokeFrame, deadline: float, done: Done) -> None:
        # Starting a worker (or waiting for room) counts against the execution limit too.
        try:
            left = deadline - asyncio.get_running_loop().time()
            worker = await asyncio.wait_for(self._acquire(), left)
            self._send(worker, frame, deadline, done)
        except TimeoutError:
            done(TimedOut("runtime application timed out"))
        except SpawnError as exc:
            done(FunctionError(f"The function could not start: {exc}"))
        except CallboxError as exc:
            done(exc)

    def _send(self, worker: Worker, frame: InvokeFrame, deadline: float, done: Done) -> None:
        try:
            received = worker.invoke(frame)
        except ValueError as exc:
            raise BadRequest(f"The request cannot be passed to the function: {exc}.") from None
        # No timer per invocation (arming and cancelling one costs about 2 microseconds): the
        # pool's sweep ends what outlives its deadline.
        self._due[received] = deadline
        if self._sweeper is None:
            self._sweeper = worker.loop.call_later(self._tick, self._sweep, worker.loop)
        received.add_done_callback(partial(self._received, worker, frame["id"], done))

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for received in [r for r, due in self._due.items() if due <= now]:
            del self._due[received]
            _expire(received)
        self._sweeper = loop.call_later(self._tick, self._sweep, loop) if self._due else None

    def _received(
        self,
        worker: Worker,
        invocation_id: str,
        done: Done,
        received: asyncio.Future[Received],
    ) -> None:
        self._due.pop(received, None)
        try:
            header, body, oversize = received.result()
            # The conversions are the gateway's guard on what a worker (user code) sent.
            logs = header["logs"]
            if type(logs) is not list:
                raise TypeError(logs)
            headers = [(str(k), str(v)) for k, v in header["headers"]]
            reply = Reply(int(header["status"]), headers, body, logs, oversize)
        except TimeoutError:
            self._abandon(worker, invocation_id)
            done(TimedOut("runtime application timed out"))
        except WorkerLost as exc:
            done(FunctionError(str(exc)))
        except asyncio.CancelledError:
            done(FunctionError("The invocation was cancelled before its worker answered."))
        except (LookupError, TypeError, ValueError):
            done(
                FunctionError(
                    "The function's worker sent a result that does not follow the frame protocol."
                )
            )
        else:
            done(reply)

    def _remember(self, invocation_id: str, meta: dict[str, Any]) -> None:
        # Kept for lines a function writes after its response; bounded, oldest dropped.
        self._meta[invocation_id] = meta
        if len(self._meta) > 1000:
            del self._meta[next(iter(self._meta))]

    def _abandon(self, worker: Worker, invocation_id: str) -> None:
        ack = worker.cancel(invocation_id)
        asyncio.ensure_future(self._await_cancel(worker, ack, invocation_id))

    async def _await_cancel(
        self, worker: Worker, ack: asyncio.Future[CancelledFrame], invocation_id: str
    ) -> None:
        try:
            answer = await asyncio.wait_for(ack, self.config.cancel_grace)
        except (TimeoutError, WorkerLost):
            worker.cancel_acks.pop(invocation_id, None)
            self._retire(worker)  # its event loop does not answer: blocked
            return
        lines = answer["logs"]
        if lines:
            self._on_late_logs(self._meta.get(invocation_id, {}), lines)
        if answer["thread_running"]:
            # A thread cannot be stopped from outside: nothing new goes to this worker.
            self._retire(worker)

    def _retire(self, worker: Worker) -> None:
        worker.retired = True
        self._changed.set()
        if worker.load == 0:
            self._drop(worker)

    def _drop(self, worker: Worker) -> None:
        worker.kill()
        with contextlib.suppress(ValueError):
            self.workers.remove(worker)
        self._changed.set()

    def _on_idle(self, worker: Worker) -> None:
        surplus = sum(1 for w in self.workers if w.usable) > self.max_workers
        if worker.retired or self.closed or (surplus and worker.usable):
            self._drop(worker)
        self._changed.set()

    def _on_dead(self, worker: Worker) -> None:
        with contextlib.suppress(ValueError):
            self.workers.remove(worker)
        self._changed.set()

    def _on_late_log(self, invocation_id: str, line: LogLine) -> None:
        self._on_late_logs(self._meta.get(invocation_id, {}), [line])

    def _room(self) -> bool:
        # Suspect workers (an unanswered cancel) do not take a place: a replacement may start
        # while they prove healthy or get retired.
        healthy = sum(1 for w in self.workers if not w.suspect)
        return healthy + self._spawning < self.max_workers

    def _ready(self) -> Worker | None:
        """The worker to use now: an idle one, or the least loaded when no other may start."""
        if len(self.workers) == 1:  # a Node build's, and any build's when quiet
            only = self.workers[0]
            # Usable, it is the one healthy worker: room means another may start.
            if only.usable and (not only.pending or 1 + self._spawning >= self.max_workers):
                return only
        best = min((w for w in self.workers if w.usable), key=lambda w: w.load, default=None)
        if best is not None and (best.load == 0 or not self._room()):
            return best
        return None

    async def _acquire(self) -> Worker:
        while True:
            worker = self._ready()
            if worker is not None:
                return worker
            if self._room():
                return await self._spawn()
            self._changed.clear()
            await self._changed.wait()

    async def _spawn(self) -> Worker:
        self._spawning += 1
        try:
            worker = await self.supervisor.spawn(self.spec)
        finally:
            self._spawning -= 1
            self._changed.set()
        worker.on_idle = self._on_idle
        worker.on_dead = self._on_dead
        worker.on_late_log = self._on_late_log
        # Even if the build was replaced meanwhile, this worker serves the request that asked
        # for it; a closed pool drops its workers as soon as they are idle.
        self.workers.append(worker)
        return worker

    async def warm(self) -> None:
        """Start one worker ahead of the first request."""
        if not self.workers and not self._spawning:
            with contextlib.suppress(SpawnError):
                await self._spawn()

    def close(self) -> None:
        """Drain: idle workers stop now, busy ones when their last invocation ends."""
        self.closed = True
        for worker in list(self.workers):
            if worker.load == 0:
                self._drop(worker)


def _expire(reply: asyncio.Future[Any]) -> None:
    if not reply.done():
        reply.set_exception(TimeoutError())


class PoolSet:
    """Every build's pool; a build that stops being served is drained."""

    def __init__(
        self, supervisor: Supervisor, config: Config, on_late_logs: LateLogSink | None = None
    ) -> None:
        self.supervisor = supervisor
        self.config = config
        self.on_late_logs = on_late_logs
        self._pools: dict[str, Pool] = {}
        self._retired: set[str] = set()

    def pool_for(self, deployment: Any) -> Pool:
        pool = self._pools.get(deployment.build_key)
        if pool is None:
            spec = deployment.worker_spec(
                memory_limit_mb=self.config.memory_limit_mb,
                debug_errors=self.config.debug_errors,
                threads=self.config.handler_threads,
            )
            if self.config.inspect:  # one worker, so a debugger finds the invocations there
                host, _, port = self.config.inspect.rpartition(":")
                wait = self.config.inspect_wait
                spec["inspect"] = {"host": host or "127.0.0.1", "port": int(port), "wait": wait}
            pool = Pool(self.supervisor, spec, self.config, self.on_late_logs)
            if deployment.build_key in self._retired:
                # A request that began before its build was replaced: serve it, keep nothing.
                pool.close()
            else:
                self._pools[deployment.build_key] = pool
        return pool

    def retire(self, build_key: str) -> None:
        self._retired.add(build_key)
        pool = self._pools.pop(build_key, None)
        if pool is not None:
            pool.close()

    def serve_only(self, build_keys: set[str]) -> None:
        """Drain every pool whose build is no longer served; a build deployed again may pool."""
        self._retired -= build_keys
        for key in [k for k in self._pools if k not in build_keys]:
            self.retire(key)

    def close(self) -> None:
        for key in list(self._pools):
            self.retire(key)
