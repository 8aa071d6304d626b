"""The warm parent: imports the runtime and the twilio library once, then forks workers.

Started by the gateway as ``python -m callbox.worker.zygote``. Commands arrive as JSON lines on
stdin; exit reports leave as JSON lines on stdout (see ``protocol``). EOF on stdin means the
gateway is gone: every worker is killed and the zygote exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

# Imported here so every forked worker starts with them already loaded.
import callbox.runtime  # noqa: F401
import callbox.worker.loop as worker_loop
from callbox.worker import sandbox

_children: dict[int, str] = {}
_scratch: dict[int, str] = {}  # worker pid -> its own temporary folder (sandboxed workers)


def _warm_imports() -> None:
    import twilio.jwt.access_token  # noqa: F401
    import twilio.request_validator  # noqa: F401
    import twilio.rest  # noqa: F401
    import twilio.twiml.messaging_response  # noqa: F401
    import twilio.twiml.voice_response  # noqa: F401


def _report(message: dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _limit_memory(limit_mb: int, threads: int) -> None:
    if limit_mb <= 0:
        return
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * resource.getpagesize()
    # Room for the handler threads' stacks comes on top of the function's own budget.
    allowance = threads * threading.stack_size() or threads * 8 * 1024 * 1024
    cap = current + limit_mb * 1024 * 1024 + allowance + 64 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _max_fd() -> int:
    try:
        return max(int(os.sysconf("SC_OPEN_MAX")), 256)
    except (ValueError, OSError):
        return 65536


def _become_worker(
    worker_id: str, socket_path: str, spec: dict[str, Any], scratch: str | None = None
) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    os.dup2(2, 1)  # the zygote's stdout carries reports; a worker must never write there
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # The zygote's own descriptors (its wake-up pipe) are not the function's business either.
    os.closerange(3, _max_fd())
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not stall on a core dump
    threads = int(spec["threads"])
    threading.stack_size(4 * 1024 * 1024)
    _limit_memory(int(spec.get("memory_limit_mb") or 0), threads)
    # Connected before any fence goes up: the socket's folder is the server's alone.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    if spec.get("hide"):
        readable = [Path(p) for p in [spec.get("root"), *spec.get("site_packages", [])] if p]
        writable = [Path(scratch)] if scratch else []
        if not sandbox.hide(Path(spec["hide"]), readable, writable):
            sys.stderr.write("callbox: Landlock is not available; this worker is not sandboxed.\n")
        if scratch:  # the worker's own /tmp: files it writes there it can read back
            os.environ["TMPDIR"] = scratch
            tempfile.tempdir = None
    worker_loop.run(spec, sock, worker_id)


def _spawn(command: dict[str, Any]) -> None:
    worker_id = str(command["worker_id"])
    spec = command.get("spec") or {}
    scratch = None
    if spec.get("hide") and sandbox.available():
        sandbox.prepare(Path(spec["hide"]))  # here, once: every fork inherits it
        scratch = tempfile.mkdtemp(prefix="callbox-worker-")
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _become_worker(worker_id, str(command["socket"]), spec, scratch)
        except BaseException as exc:  # noqa: BLE001 - report, then leave without cleanup
            code = 1
            os.write(2, f"callbox worker {worker_id} failed: {exc!r}\n".encode())
        os._exit(code)
    _children[pid] = worker_id
    if scratch:
        _scratch[pid] = scratch


def _spawn_reporting(line: bytes) -> None:
    """Spawn one worker; a bad command or a failed fork is reported, never fatal to the rest."""
    worker_id = "?"
    try:
        command = json.loads(line)
        worker_id = str(command["worker_id"])
        _spawn(command)
    except Exception as exc:  # noqa: BLE001 - running workers must survive a failed spawn
        _report(
            {"op": "exited", "worker_id": worker_id, "pid": 0, "status": f"spawn failed: {exc!r}"}
        )


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        worker_id = _children.pop(pid, None)
        shutil.rmtree(_scratch.pop(pid, ""), ignore_errors=True)
        if worker_id is not None:
            _report(
                {"op": "exited", "worker_id": worker_id, "pid": pid, "status": _describe(status)}
            )


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def main() -> None:
    # Ctrl+C reaches the whole process group; the gateway decides when workers stop (EOF).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Whatever the server's event loop left open in this process (copies of the control
    # channel, log files) must not reach the workers forked from it: only 0, 1 and 2 stay.
    os.closerange(3, _max_fd())
    _warm_imports()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    buffered = b""
    try:
        while True:
            ready, _, _ = select.select([0, wake_r], [], [])
            if wake_r in ready:
                os.read(wake_r, 4096)
                _reap()
            if 0 in ready:
                chunk = os.read(0, 65536)
                if not chunk:
                    break
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    if line.strip():
                        _spawn_reporting(line)
    finally:
        for pid in list(_children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for folder in _scratch.values():
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
