"""Builds made ready to serve on this node, in the background, once each.

A build completed on another node (or before this node's data folder was new) has no folder
here yet: its files must be written from the blobs and its dependencies installed. That is
never done inside a request: the node starts it as soon as it learns the build is deployed (at
start, and on each change it hears of), on a couple of threads of its own, once per build
however many requests want it. A request that finds its build not ready waits for it a bounded
time (hosting.py's ``PREPARE_WAIT``), then gets 503 with Retry-After.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

log = logging.getLogger("callbox.builds")

# How long a failed preparation is remembered (its error answered) before it is tried again.
RETRY_AFTER_FAILURE = 10.0


class Materialiser(Protocol):
    def build_dir(self, build_sid: str) -> Path: ...

    def ensure_materialised(self, build_sid: str) -> Path: ...


class Preparer:
    def __init__(self, builds: Materialiser, workers: int = 2) -> None:
        self.builds = builds
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callbox-prep")
        self._jobs: dict[str, Future[Path]] = {}
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._closed = False

    def ready(self, build_sid: str) -> bool:
        """Whether the build's folder (and so its dependencies: they are installed first) is
        on this node's disk."""
        return self.builds.build_dir(build_sid).is_dir()

    def prepare(self, build_sid: str) -> Future[Path]:
        """The preparation of ``build_sid``: started now unless it runs already, succeeded
        (and its folder is still there), or failed less than ``RETRY_AFTER_FAILURE`` seconds
        ago (then that failure)."""
        with self._lock:
            job = self._jobs.get(build_sid)
            if job is not None and not job.done():
                return job
            if job is not None and not job.cancelled():  # (cancelled: by close())
                if job.exception() is None:
                    if self.ready(build_sid):
                        return job
                    # Prepared, then its folder went (a disk cleaned): prepared again below.
                elif time.monotonic() - self._failed_at.get(build_sid, 0.0) < RETRY_AFTER_FAILURE:
                    return job
            if self._closed:
                job = Future()
                job.set_exception(RuntimeError("The server is stopping."))
                return job
            job = self._executor.submit(self._prepare, build_sid)
            self._jobs[build_sid] = job
            return job

    def _prepare(self, build_sid: str) -> Path:
        started = time.monotonic()
        already = self.ready(build_sid)
        try:
            path = self.builds.ensure_materialised(build_sid)
        except Exception as exc:
            with self._lock:
                self._failed_at[build_sid] = time.monotonic()
            log.warning("Build %s could not be prepared on this node: %s", build_sid, exc)
            raise
        if not already:
            log.info(
                "Build %s is ready on this node (%.1f s).", build_sid, time.monotonic() - started
            )
        return path

    def forget(self, keep: set[str]) -> None:
        """Drop finished jobs of builds not in ``keep`` (no longer deployed)."""
        with self._lock:
            for sid in [s for s, job in self._jobs.items() if s not in keep and job.done()]:
                del self._jobs[sid]
                self._failed_at.pop(sid, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
