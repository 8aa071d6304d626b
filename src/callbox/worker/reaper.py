"""No process an invocation started outlives it: once a worker has no invocation running,
every process below it is killed.

In the sandbox a worker is PID 1 of its own PID namespace: one ``kill(-1)`` reaches every other
process in it, and the kernel kills them all when the worker exits. Elsewhere the worker is a
child subreaper (orphans are handed to it, not to init) and kills its children as /proc lists
them, until none is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 20  # a child may start another while it is being killed; each round goes deeper


def adopt_orphans() -> None:
    """Become the parent of every orphan below this process (Linux; elsewhere a no-op)."""
    if os.getpid() == 1:
        return  # PID 1 of a namespace already is
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def sweep() -> bool:
    """Kill every process below this one and reap what has already ended; True if there was
    any (the killed ones may need reaping again a moment later)."""
    killed = False
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)  # PID 1 itself is spared
            killed = True
        except ProcessLookupError:
            pass
    else:
        for _ in range(_ROUNDS):
            children = _children()
            if not children:
                break
            killed = True
            for pid in children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            reap()
    reap()
    return killed


def reap() -> None:
    """Collect ended children (those a function started and never waited for)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _children() -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                found.update(int(pid) for pid in f.read().split())
        except (OSError, ValueError):
            continue
    return found
