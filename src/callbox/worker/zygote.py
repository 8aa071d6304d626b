"""The warm parent: imports the runtime and the twilio library once, then forks workers.

Started by the gateway as ``python -m callbox.worker.zygote``. Commands arrive as JSON lines on
stdin, exit reports leave as JSON lines on stdout (``frames.ZygoteCommand``, ``ExitedReport``).
EOF on stdin means the gateway is gone: every worker is killed and the zygote exits.

The zygote runs no user code and stays outside every sandbox; each forked child puts its
fences up (``callbox.sandbox.launcher``) before it loads anything of the function's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import cast

# Imported here so every forked worker starts with them already loaded.
import callbox.runtime  # noqa: F401
import callbox.worker.loop as worker_loop
from callbox.sandbox import cgroups, launcher, policy
from callbox.sandbox.fences import Fences
from callbox.worker import protocol
from callbox.worker.frames import (
    RUNTIME_NODE,
    ExitedReport,
    InspectSettings,
    SpawnCommand,
    WorkerSpec,
    ZygoteCommand,
)


@dataclasses.dataclass
class _Child:
    worker_id: str
    fences: Fences


_children: dict[int, _Child] = {}
_leftover: list[str] = []  # cgroup folders whose processes were still leaving
_runtime: list[str] = []  # what every Python worker reads: the interpreter, the import path


def _warm_imports() -> None:
    import twilio.jwt.access_token  # noqa: F401
    import twilio.request_validator  # noqa: F401
    import twilio.rest  # noqa: F401
    import twilio.twiml.messaging_response  # noqa: F401
    import twilio.twiml.voice_response  # noqa: F401


def _report(message: ExitedReport) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _limit_address_space(limit_mb: int, threads: int) -> None:
    """Where no memory cgroup exists: cap the address space (looser: it counts what is mapped,
    not what is used)."""
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


def _become_worker(worker_id: str, socket_path: str, spec: WorkerSpec, fences: Fences) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    os.dup2(2, 1)  # the zygote's stdout carries reports; a worker must never write there
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # The zygote's own descriptors (its wake-up pipe) are not the function's business either.
    os.closerange(3, _max_fd())
    # Connected before any fence goes up: the socket's folder is the server's alone.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    threads = spec["threads"]
    threading.stack_size(4 * 1024 * 1024)
    if spec["runtime"] != RUNTIME_NODE and not (
        fences.mode == "isolated" and fences.cgroups.memory
    ):  # (V8 reserves far more address space than it uses: Node gets a heap limit instead)
        _limit_address_space(spec["memory_limit_mb"], threads)
    if spec["runtime"] == RUNTIME_NODE:
        launcher.enter(fences, worker_id)
        _exec_node(spec, sock, worker_id)
    launcher.enter(fences, worker_id)
    tempfile.tempdir = None  # TMPDIR changed
    if spec.get("inspect"):
        _listen_for_debugger(spec["inspect"])
    sys.dont_write_bytecode = True  # the build and its dependencies are read-only
    worker_loop.run(spec, sock, worker_id)


def _exec_node(spec: WorkerSpec, sock: socket.socket, worker_id: str) -> None:
    """Become the Node.js worker: fd 3 the gateway's socket, fd 4 the spec (``frames.py``)."""
    spec_fd = os.memfd_create("callbox-spec")  # any size: a pipe would block past 64 KB
    own: WorkerSpec = {**spec, "worker_id": worker_id}
    os.write(spec_fd, json.dumps(own).encode())
    os.lseek(spec_fd, 0, os.SEEK_SET)
    # Out of the way first: either may already sit on 3 or 4.
    socket_copy, spec_copy = os.dup(sock.fileno()), os.dup(spec_fd)
    os.dup2(socket_copy, protocol.SOCKET_FD)
    os.dup2(spec_copy, protocol.SPEC_FD)
    for fd in (protocol.SOCKET_FD, protocol.SPEC_FD):
        os.set_inheritable(fd, True)
    node = spec["executable"]
    argv = [node]
    inspect = spec.get("inspect")
    if inspect:  # waiting, if asked, is the worker's: after its hello (worker.js)
        argv.append(f"--inspect={inspect['host']}:{inspect['port']}")
    memory = spec["memory_limit_mb"]
    if memory > 0:  # the heap gets most of the budget; buffers and code take the rest
        argv.append(f"--max-old-space-size={max(16, memory * 3 // 4)}")
    argv.append(str(Path(callbox_node_folder(), "worker.js")))
    os.execve(node, argv, dict(os.environ))


def _listen_for_debugger(inspect: InspectSettings) -> None:
    """``callbox start --inspect``: debugpy listens for a Debug Adapter Protocol client."""
    import debugpy

    debugpy.listen((inspect["host"], inspect["port"]))


def callbox_node_folder() -> str:
    return str(Path(worker_loop.__file__).resolve().parent.parent / "node")


def _spawn(command: SpawnCommand) -> None:
    worker_id = command["worker_id"]
    spec = command["spec"]
    fences = Fences.from_dict(spec["fences"]) if "fences" in spec else Fences("off")
    fences = dataclasses.replace(fences, readable=(*_runtime, *fences.readable))
    if fences.mode == "landlock":  # no /tmp of its own: a scratch folder, removed at its end
        scratch = tempfile.mkdtemp(prefix="callbox-worker-")
        env = {**fences.env, "TMPDIR": scratch, "HOME": scratch}
        fences = dataclasses.replace(fences, scratch=scratch, env=env)
    pid = launcher.fork(new_pid_namespace=fences.mode == "isolated")
    if pid == 0:
        code = 0
        try:
            _become_worker(worker_id, command["socket"], spec, fences)
        except BaseException:  # noqa: BLE001 - report, then leave without cleanup
            code = 1
            where = traceback.format_exc(limit=-3)
            os.write(2, f"callbox worker {worker_id} failed to start:\n{where}".encode())
        os._exit(code)
    _children[pid] = _Child(worker_id, fences)


def _kill(worker_id: str) -> None:
    for pid, child in list(_children.items()):
        if child.worker_id == worker_id:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _command(line: bytes) -> None:
    """Run one command; a bad one or a failed fork is reported, never fatal to the rest."""
    worker_id = "?"
    try:
        command = cast(ZygoteCommand, json.loads(line))  # from the gateway: trusted
        worker_id = command["worker_id"]
        if command["op"] == "kill":
            _kill(worker_id)
        else:
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
        child = _children.pop(pid, None)
        if child is None:
            continue
        status_text = _describe(status)
        oom, left = _release(child, attempts=1)
        _leftover.extend(left)
        if oom:
            limit = child.fences.memory_mb
            status_text = f"out of memory: it went over its {limit} MB limit; {status_text}"
        _report({"op": "exited", "worker_id": child.worker_id, "pid": pid, "status": status_text})


def _release(child: _Child, attempts: int) -> tuple[bool, list[str]]:
    if child.fences.scratch:
        policy.remove_scratch(child.fences.scratch)
    if child.fences.mode != "isolated":
        return False, []
    return cgroups.release(child.fences.cgroups, child.fences.group, child.worker_id, attempts)


def _retry_leftovers() -> None:
    _leftover[:] = [f for f in _leftover if not cgroups.remove_tree(Path(f), attempts=1)]


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
    _runtime.extend(policy.python_runtime())
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    buffered = b""
    try:
        while True:
            ready, _, _ = select.select([0, wake_r], [], [], 1.0 if _leftover else None)
            if _leftover:
                _retry_leftovers()
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
                        _command(line)
    finally:
        for pid in list(_children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid, child in list(_children.items()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            _release(child, attempts=50)


if __name__ == "__main__":
    main()
