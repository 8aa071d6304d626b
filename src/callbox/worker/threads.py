"""The threads a worker runs plain (sync) handlers on.

``concurrent.futures`` costs a Condition, a work item and a chained asyncio future per call:
measured, a quarter of a worker's time for a one-line handler. A job here is one small object,
and its end is reported to the event loop with a single ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

QUEUED, RUNNING, DONE, CANCELLED = range(4)


class Job:
    """One call on a handler thread; ``on_done(job)`` runs on the event loop when it ends."""

    __slots__ = ("call", "args", "on_done", "context", "state", "result", "error")

    def __init__(
        self,
        call: Callable[..., Any],
        args: tuple[Any, ...],
        on_done: Callable[[Job], None],
        context: contextvars.Context,
    ) -> None:
        self.call = call
        self.args = args
        self.on_done = on_done
        self.context = context
        self.state = QUEUED
        self.result: Any = None
        self.error: BaseException | None = None

    def cancel(self) -> bool:
        """Drop the job if no thread took it yet; a running call cannot be stopped."""
        if self.state == QUEUED:
            self.state = CANCELLED
            return True
        return self.state == CANCELLED

    def done(self) -> bool:
        return self.state in (DONE, CANCELLED)


class HandlerThreads:
    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.size = size
        self._queue: SimpleQueue[Job] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, call: Callable[..., Any], *args: Any, on_done: Callable[[Job], None]) -> Job:
        """Run ``call(*args)`` in the caller's context on a handler thread."""
        job = Job(call, args, on_done, contextvars.copy_context())
        with self._lock:
            start = self._idle == 0 and self._threads < self.size
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # this job takes an idle thread: count it busy right away
        if start:
            threading.Thread(target=self._serve, name="handler", daemon=True).start()
        self._queue.put(job)
        return job

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        """Await ``call(*args)`` run on a handler thread (for one-off work such as imports)."""
        future: asyncio.Future[Any] = self.loop.create_future()

        def settle(job: Job) -> None:
            if job.error is not None:
                future.set_exception(job.error)
            else:
                future.set_result(job.result)

        self.submit(call, *args, on_done=settle)
        return await future

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job.state == QUEUED:
                job.state = RUNNING
                try:
                    job.result = job.context.run(job.call, *job.args)
                except BaseException as exc:  # noqa: BLE001 - handed to the loop as is
                    job.error = exc
                job.state = DONE
                self.loop.call_soon_threadsafe(job.on_done, job)
            with self._lock:
                self._idle += 1
