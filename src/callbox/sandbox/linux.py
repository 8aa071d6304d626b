"""The Linux system calls the sandbox needs that Python's ``os`` module does not offer (3.11).

Thin ctypes wrappers: each raises ``OSError`` with the kernel's errno, like ``os`` does.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

# Namespaces (sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

# System call numbers the C library has no wrapper for, by machine.
_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "bpf": 321, "seccomp": 317},
    "aarch64": {"pivot_root": 41, "bpf": 280, "seccomp": 277},
}


@functools.cache
def libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    return lib


def machine_supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in _SYSCALLS


def syscall_number(name: str) -> int:
    return _SYSCALLS[platform.machine()][name]


def check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def unshare(flags: int) -> None:
    check(libc().unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    check(libc().setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    check(
        libc().mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def umount(target: str, flags: int = 0) -> None:
    check(libc().umount2(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    check(
        libc().syscall(syscall_number("pivot_root"), new_root.encode(), put_old.encode()),
        "pivot_root",
    )


def prctl(option: int, value: int) -> None:
    check(libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")
