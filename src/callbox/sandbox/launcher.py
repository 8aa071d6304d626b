"""Put the fences up, in the process that is about to become a worker (or an install), before
any code of the function or of its runtime runs. The same for every language: a Python worker
goes on in-process after ``enter``; anything else is exec'd by ``python -m callbox.sandbox``.

Order matters: join the cgroups and build the file view while still root, then drop to the
sandbox's uid (which clears every capability), then ask for the parent's death signal (a uid
change clears it), then Landlock, which also sets no_new_privs, then the system-call filter.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket

from callbox.sandbox import cgroups, landlock, linux, mounts, seccomp
from callbox.sandbox.fences import Fences


def fork(new_pid_namespace: bool) -> int:
    """``os.fork()``; with ``new_pid_namespace`` the child is PID 1 of a namespace of its own:
    when it exits the kernel kills every process left inside, and it sees none outside."""
    if not new_pid_namespace:
        return os.fork()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.unshare(linux.CLONE_NEWPID)
        pid = os.fork()
        if pid != 0:  # later forks of this process: in its own namespace again
            linux.setns(own, linux.CLONE_NEWPID)
        return pid
    finally:
        os.close(own)


def enter(fences: Fences, name: str) -> None:
    """Apply ``fences`` to this process for good; ``name`` names its own cgroup."""
    if fences.mode == "isolated":
        _isolate(fences, name)
    elif fences.mode == "landlock":
        _restrict_self(fences)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not stall on a core dump
    os.environ.clear()
    os.environ.update(fences.env)


def _isolate(fences: Fences, name: str) -> None:
    uid = gid = fences.uid
    cgroups.join(fences.cgroups, fences.group, name, fences.memory_mb, fences.pids)
    linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS)
    socket.sethostname("callbox")
    mounts.build_root(
        fences.stage,
        readable=fences.readable,
        writable=fences.writable,
        hidden=fences.hidden,
        tmp_mb=fences.tmp_mb,
        uid=uid,
        gid=gid,
    )
    if fences.pids > 0:  # counted per uid: a second fence for the service's processes
        resource.setrlimit(resource.RLIMIT_NPROC, (fences.pids, fences.pids))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    landlock.restrict(
        readable=[*mounts.SYSTEM, "/etc", "/proc", *fences.readable],
        writable=["/tmp", *fences.writable],
        devices=[f"/dev/{name}" for name in mounts.DEVICES],
        listable=["/"],  # the mount namespace already shows nothing else
    )
    seccomp.install()  # last: the fences above needed some of the calls it refuses


def _restrict_self(fences: Fences) -> None:
    """Without root: Landlock keeps files, signals and abstract sockets within bounds."""
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    own = f"/proc/{os.getpid()}"
    # Other processes' /proc entries (the server's environment) stay out of reach.
    proc = [f"/proc/{e}" for e in _entries("/proc") if not e.isdigit() and e != "self"]
    landlock.restrict(
        readable=[*mounts.SYSTEM, "/etc", *proc, own, *fences.readable],
        writable=[p for p in (fences.scratch, *fences.writable) if p],
        devices=[f"/dev/{name}" for name in mounts.DEVICES],
    )
    seccomp.install()


def _entries(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def run(fences: Fences, name: str, argv: list[str]) -> int:
    """Run ``argv`` inside ``fences`` to its end, from a process that stays outside: its exit
    status (negative: killed by that signal). The caller's signals SIGTERM/SIGINT kill it."""
    isolated = fences.mode == "isolated"
    pid = fork(isolated)
    if pid == 0:
        try:
            enter(fences, name)
            os.execvpe(argv[0], argv, fences.env)
        except BaseException as exc:  # noqa: BLE001 - say why, then leave without cleanup
            os.write(2, f"callbox sandbox: cannot start {argv[0]}: {exc}\n".encode())
        os._exit(127)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda _sig, _frame: _kill(pid))
    _, status = os.waitpid(pid, 0)
    if isolated:
        cgroups.release(fences.cgroups, fences.group, name)
    return os.waitstatus_to_exitcode(status)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
