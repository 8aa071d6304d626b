"""Once a worker is idle, no process its invocations started is left (outside a PID
namespace: the worker is their subreaper and kills its children until none is left)."""

from __future__ import annotations

import os
import time

from callbox.worker import reaper


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sweep_kills_children_and_the_orphans_they_left() -> None:
    read, write = os.pipe()
    worker = os.fork()
    if worker == 0:  # the "worker": adopts orphans, starts a child that starts a daemon
        try:
            reaper.adopt_orphans()
            child = os.fork()
            if child == 0:
                grandchild = os.fork()
                if grandchild == 0:
                    os.setsid()
                    time.sleep(60)
                    os._exit(0)
                os.write(write, f"{grandchild}\n".encode())
                os._exit(0)  # the grandchild is now an orphan: handed to the worker
            os.waitpid(child, 0)
            time.sleep(0.1)
            killed = reaper.sweep()
            time.sleep(0.1)
            reaper.reap()
            os.write(write, f"{int(killed)}\n".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as lines:
        grandchild = int(lines.readline())
        killed = lines.readline().strip()
    os.waitpid(worker, 0)
    assert killed == "1"
    assert not alive(grandchild)


def test_sweep_with_nothing_to_kill_says_so() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            reaper.adopt_orphans()
            os.write(write, b"1" if reaper.sweep() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"0"
