"""Landlock: a process gives up, for good, file access beyond an allow list (Linux 5.13+, no
privileges needed), and on 6.12+ signals and abstract Unix sockets beyond its own sandbox.

Rules grant: everything the ruleset handles is denied except beneath the granted paths.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterable

from callbox.sandbox import linux

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on x86_64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 1 << 1, 1 << 2, 1 << 3
_CHANGE_TREE = sum(1 << bit for bit in range(4, 13))  # remove and make entries of every kind
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3 and 5
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2  # ABI 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    if not linux.machine_supported():
        return 0
    version = linux.libc().syscall(
        _CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
    )
    return max(int(version), 0)


def available() -> bool:
    return abi_version() >= 1


def scopes_available() -> bool:
    """Whether signals and abstract Unix sockets can be kept within the sandbox (ABI 6)."""
    return abi_version() >= 6


def _handled() -> int:
    handled = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _CHANGE_TREE
    version = abi_version()
    if version >= 2:
        handled |= _REFER
    if version >= 3:
        handled |= _TRUNCATE
    if version >= 5:
        handled |= _IOCTL_DEV
    return handled


_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | _TRUNCATE | _IOCTL_DEV
READ = EXECUTE | READ_FILE | READ_DIR
DEVICE = READ_FILE | WRITE_FILE | _IOCTL_DEV


def restrict(
    readable: Iterable[str],
    writable: Iterable[str],
    devices: Iterable[str] = (),
    listable: Iterable[str] = (),
) -> list[str]:
    """Restrict this thread (and what it starts) for good; returns what is enforced.

    ``readable`` may be read and executed, ``writable`` also changed in every way, ``devices``
    read, written and controlled, ``listable`` folders (and those below) only listed. Paths
    that do not exist are skipped. Returns the protections applied (empty without Landlock;
    then nothing changed)."""
    version = abi_version()
    if version < 1:
        return []
    handled = _handled()
    attr = _RulesetAttr(handled, 0, 0)
    size = ctypes.sizeof(ctypes.c_uint64)
    if version >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = ctypes.sizeof(attr)
    libc = linux.libc()
    ruleset = linux.check(
        int(libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)),
        "landlock_create_ruleset",
    )
    try:
        rules = ((READ_DIR, listable), (READ, readable), (handled, writable), (DEVICE, devices))
        for rights, paths in rules:
            for path in paths:
                _allow(ruleset, path, rights & handled)
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        linux.check(int(libc.syscall(_RESTRICT_SELF, ruleset, 0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    applied = ["files"]
    if version >= 6:
        applied += ["signals", "abstract sockets"]
    return applied


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # gone, or never there: nothing to grant
    try:
        if not os.path.isdir(path):  # a rule on a file may only grant file rights (else EINVAL)
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        linux.check(
            int(
                linux.libc().syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            ),
            f"landlock_add_rule {path}",
        )
    finally:
        os.close(fd)
