"""The worker's loop: read a frame, run the handler, write the result. Every failure of user code
becomes a result; only a broken connection to the gateway ends the process."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import sys
import threading
import time
from typing import Any, Literal

from callbox.runtime.context import Context
from callbox.runtime.response import HttpResult, render_error, render_success
from callbox.worker import logs, protocol, reaper
from callbox.worker.frames import (
    RUNTIME_PYTHON,
    CancelledFrame,
    Event,
    HelloFrame,
    InvokeContext,
    InvokeFrame,
    LogFrame,
    LogLine,
    ResultFrame,
    WorkerFrame,
    WorkerSpec,
)
from callbox.worker.loader import LoadError, load_handler, user_traceback
from callbox.worker.logs import ERROR, WARN, LineSink
from callbox.worker.threads import HandlerThreads, Job


def _describe(value: Any) -> str:
    try:
        return repr(value) if not isinstance(value, str) else value
    except Exception:  # noqa: BLE001 - a repr that fails is user code too
        return f"<{type(value).__name__}>"


def _is_error(value: Any) -> bool:
    # As in Node: any truthy error fails the invocation; callback(0, x) or callback("", x) succeed.
    return not (value is None or value is False or value == 0 or value == "")


class Invocation:
    """One call of a handler; ``callback`` may be called from the loop or from a handler thread."""

    def __init__(self, worker: WorkerLoop, invocation_id: str) -> None:
        self.worker = worker
        self.id = invocation_id
        self.loop = worker.loop
        self.sink = LineSink(late=self._send_late_line)
        self.outcome: asyncio.Future[tuple[Any, Any]] = self.loop.create_future()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.mode: Literal["sync", "async"] = "sync"
        self.runner: asyncio.Future[None] | None = None
        self.main: asyncio.Task[Any] | None = None  # an async handler's task
        self.thread: Job | None = None  # a sync handler's job
        self.started = time.monotonic()
        self.timeout = 0.0

    # -- the callback handed to user code -------------------------------------------------
    def callback(self, error: Any = None, response: Any = None) -> None:
        if threading.get_ident() == self.worker.thread_id:
            self._settle(error, response)
        else:
            self.loop.call_soon_threadsafe(self._settle, error, response)

    def _settle(self, error: Any, response: Any) -> None:
        if self.outcome.done():
            self.sink.emit(WARN, "callback() was called again after the invocation ended; ignored.")
            return
        self.outcome.set_result((error, response))
        # The invocation ends at the first callback: work still pending is cut off, as on Twilio.
        for task in list(self.tasks):
            task.cancel()

    def _send_late_line(self, line: LogLine) -> None:
        frame: LogFrame = {"type": "log", "id": self.id, **line}
        if threading.get_ident() == self.worker.thread_id:
            self.worker.send(frame)
        else:
            self.loop.call_soon_threadsafe(self.worker.send, frame)

    # -- running ----------------------------------------------------------------------------
    async def run(self, path: str, context: InvokeContext, event: Event) -> None:
        logs.started(self)
        retire = False
        try:
            result = await self._run(path, context, event)
        except MemoryError:
            result, retire = self._memory_error(), True
        except Exception as exc:  # noqa: BLE001 - last resort: a result must always be sent
            result = render_error(
                RuntimeError(f"The function's result could not be sent: {exc!r}"),
                include_stack=self.worker.spec["debug_errors"],
            )
        logs.flush(self)
        self._watch_lingering_thread()
        if self.sink.sent:  # cancelled meanwhile: the gateway already has its answer
            return
        header: ResultFrame = {
            "type": "result",
            "id": self.id,
            "status": result.status,
            "headers": result.headers,
            "logs": self.sink.take(),
            "mode": self.mode,
            "retire": retire,
        }
        self.worker.send(header, result.body)

    async def _run(self, path: str, context: InvokeContext, event: Event) -> HttpResult:
        spec = self.worker.spec
        debug = spec["debug_errors"]
        try:
            handler = await self.worker.handler(path)
        except LoadError as exc:
            self._report(exc, path)
            return render_error(exc, include_stack=debug)
        deadline = self.started + self.timeout if self.timeout else None
        ctx = Context(context, local=spec["local"], deadline=deadline)
        self._start(handler, ctx, event)
        # Settled by the first callback(), a returned value or an exception, whichever is
        # first; a handler that returns None keeps waiting for callback() (the deadline bounds
        # the wait).
        error, response = await self.outcome
        if isinstance(error, MemoryError):
            raise error
        if _is_error(error):
            self._report(error, path)
            return render_error(error, include_stack=debug)
        result = render_success(response, domain=str(context.get("DOMAIN_NAME") or ""))
        if result.rejected is not None:  # an invalid status, cookie or body: a failure too
            self.sink.emit(ERROR, f"{path} failed: {result.rejected}")
        return result

    def _report(self, error: Any, path: str) -> None:
        """A failed invocation leaves an ERROR line: what failed and where, with the traceback
        (paths shown relative to the build), whatever the error body says."""
        if isinstance(error, LoadError):
            text = error.message + (f"\n{error.stack.rstrip()}" if error.stack else "")
        elif isinstance(error, BaseException):
            text = user_traceback(error)
        else:
            text = f"callback() was given an error: {_describe(error)}"
        root = self.worker.spec["root"]
        if root:
            text = text.replace(root.rstrip("/") + "/", "")
        self.sink.emit(ERROR, f"{path} failed: {text}")

    def _start(self, handler: Any, ctx: Context, event: Event) -> None:
        if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - async callable objects
        ):
            self._await(handler(ctx, event, self.callback))
        else:
            # Sync handlers run on a thread so the loop stays free for other invocations.
            self.thread = self.worker.threads.submit(
                handler, ctx, event, self.callback, on_done=self._thread_done
            )

    def _await(self, awaitable: Any) -> None:
        self.mode = "async"
        self.main = asyncio.ensure_future(_contained(awaitable))
        self.main.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        self._ended(None if error is not None else task.result(), error)

    def _thread_done(self, job: Job) -> None:
        if inspect.isawaitable(job.result) and job.error is None:  # a def returning a coroutine
            job.context.run(self._await, job.result)
            return
        self._ended(job.result, job.error)

    def _ended(self, value: Any, error: BaseException | None) -> None:
        """The handler returned or raised; after a callback() that changes nothing."""
        if self.outcome.done():
            return
        if isinstance(error, _UserExit):
            error = error.__cause__
        if error is not None:
            self._settle(error, None)
        elif value is not None:  # Python convenience: a returned value is the response
            self._settle(None, value)

    def _watch_lingering_thread(self) -> None:
        """A sync handler may go on after its callback; past the limit its worker must go."""
        if self.thread is None or self.thread.done() or not self.timeout:
            return
        remaining = max(0.0, self.started + self.timeout - time.monotonic())

        def check() -> None:
            if self.thread is not None and not self.thread.done():
                self.worker.send({"type": "retire", "id": self.id})

        self.loop.call_later(remaining, check)

    def _memory_error(self) -> HttpResult:
        limit = self.worker.spec["memory_limit_mb"]
        return render_error(
            MemoryError(
                f"The function ran out of memory: it needed more than its {limit} MB limit."
            ),
            include_stack=False,
        )

    def cancel(self) -> None:
        """The gateway gave up on this invocation (deadline): stop it and hand back its logs."""
        logs.flush(self)
        # A queued job is dropped; a handler thread that already runs cannot be stopped: tell
        # the gateway so it retires this worker.
        if self.thread is not None:
            self.thread.cancel()
        thread_running = self.thread is not None and not self.thread.done()
        answer: CancelledFrame = {
            "type": "cancelled",
            "id": self.id,
            "logs": self.sink.take(),
            "thread_running": thread_running,
        }
        self.worker.send(answer)
        if not self.outcome.done():
            self.outcome.cancel()
        for task in list(self.tasks):
            task.cancel()
        if self.runner is not None:
            self.runner.cancel()


class _UserExit(Exception):  # noqa: N818 - a wrapper, not an error of its own
    """SystemExit / KeyboardInterrupt from user code, kept from stopping the worker's loop."""


async def _contained(coroutine: Any) -> Any:
    try:
        return await coroutine
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _UserExit(str(exc)) from exc


class WorkerLoop:
    """Reads frames from the gateway and runs invocations concurrently."""

    def __init__(self, spec: WorkerSpec, writer: asyncio.StreamWriter) -> None:
        self.spec = spec
        self.writer = writer
        self.outbox = protocol.Outbox(writer)
        self.loop = asyncio.get_running_loop()
        self.thread_id = threading.get_ident()
        self.threads = HandlerThreads(self.loop, spec["threads"])
        self.invocations: dict[str, Invocation] = {}
        self._handlers: dict[str, Any] = {}
        self.loop.set_task_factory(self._task_factory)

    def _task_factory(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        owner = logs.current.get(None)
        if owner is not None:  # a task started by user code belongs to its invocation
            if owner.outcome.done():
                task.cancel()  # started after the callback: the invocation is over
            else:
                owner.tasks.add(task)
                task.add_done_callback(owner.tasks.discard)
        return task

    async def handler(self, path: str) -> Any:
        """The handler for ``path``, loaded once per worker (a load failure is kept too).

        The first load runs on a thread: a slow import must not stall the invocations that
        share this worker's event loop."""
        found = self._handlers.get(path)
        if found is None:
            try:
                # Within the invocation's context, so prints during import are its log lines.
                found = await self.threads.run(load_handler, path, self.spec["root"])
            except LoadError as exc:
                found = exc
            self._handlers[path] = found
        if isinstance(found, LoadError):
            # A fresh error each time: re-raising one instance would grow its traceback.
            raise LoadError(found.message, found.stack) from found.__cause__
        return found

    def send(self, header: WorkerFrame, body: bytes = b"") -> None:
        self.outbox.put(protocol.encode(header, body))

    def start(self, frame: InvokeFrame) -> None:
        invocation = Invocation(self, frame["id"])
        invocation.timeout = frame["timeout"]
        self.invocations[invocation.id] = invocation
        runner = asyncio.ensure_future(
            invocation.run(frame["path"], frame["context"], frame["event"])
        )
        invocation.runner = runner
        runner.add_done_callback(lambda _: self._finished(invocation.id))

    def _finished(self, invocation_id: str) -> None:
        self.invocations.pop(invocation_id, None)
        if not self.invocations:
            self._idle()

    def _idle(self) -> None:
        """Nothing runs: no process an invocation started may be left (``reaper``)."""
        if self.spec.get("inspect"):
            return  # debugpy's adapter is a process of this worker's: it must live on
        if reaper.sweep():
            self.loop.call_later(0.1, self._reap_if_idle)

    def _reap_if_idle(self) -> None:
        # Never while an invocation runs: it may be waiting for a child of its own.
        if not self.invocations:
            reaper.reap()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Run the gateway's frames until it closes the socket; a frame that breaks the
        contract (``frames.py``) raises ``ProtocolError``."""
        while True:
            try:
                frame, _ = await protocol.read_frame(reader, max_body=0)
            except EOFError:
                return
            except protocol.BodyTooLarge as exc:
                frame = exc.header  # a body only a result may carry: skipped, and ignored
            if frame["type"] == "invoke":
                self.start(frame)
            elif frame["type"] == "cancel":
                invocation = self.invocations.pop(frame["id"], None)
                if invocation is not None:
                    invocation.cancel()
                    if not self.invocations:
                        self._idle()
                else:  # finished meanwhile: say so, or the gateway thinks the loop is blocked
                    answer: CancelledFrame = {
                        "type": "cancelled",
                        "id": frame["id"],
                        "logs": [],
                        "thread_running": False,
                    }
                    self.send(answer)
            await self.writer.drain()


async def _main(spec: WorkerSpec, sock: socket.socket, worker_id: str) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 20)
    worker = WorkerLoop(spec, writer)
    hello: HelloFrame = {
        "type": "hello",
        "worker_id": worker_id,
        "pid": os.getpid(),
        "runtime": RUNTIME_PYTHON,
    }
    worker.send(hello)
    inspect = spec.get("inspect")
    if inspect and inspect.get("wait"):  # --inspect-brk: nothing runs before a debugger is here
        import debugpy

        await worker.writer.drain()
        await asyncio.to_thread(debugpy.wait_for_client)
    try:
        await worker.serve(reader)
    except protocol.ProtocolError as exc:
        # Not a frame: the stream cannot be trusted any more. The gateway sees the socket close.
        if sys.__stderr__ is not None:
            sys.__stderr__.write(f"callbox worker: {exc}; stopping.\n")
        raise SystemExit(1) from None


def run(spec: WorkerSpec, sock: socket.socket, worker_id: str) -> None:
    """Serve the build in ``spec`` over ``sock`` (already connected to the gateway) until the
    gateway closes the connection. The sandbox, if any, is already up: this is user-code land."""
    sys.path[:0] = [p for p in spec["site_packages"] if p]
    if spec["root"]:
        os.chdir(spec["root"])
    from callbox.runtime.globals import Runtime

    functions = {path: entry["file"] for path, entry in spec["functions"].items()}
    private_assets = {
        path: entry["file"]
        for path, entry in spec["assets"].items()
        if entry["visibility"] == "private"
    }
    Runtime.install(functions, private_assets)
    logs.install()
    reaper.adopt_orphans()
    asyncio.run(_main(spec, sock, worker_id))
