"""Keep a worker out of the server's data folder (Linux Landlock; stdlib and ctypes only).

Workers run as the server's OS user, so without this any deployed function could read
``<data>/secret.key`` and the database (every account's secrets), or overwrite them. Landlock
(Linux 5.13+, no privileges needed) lets a process give up file access for good: the worker
keeps what it had, except that it can neither read nor change the data folder (bar reading its
own build and dependency folders) nor other processes' ``/proc`` entries (the server's
environment). Landlock rules grant, they cannot subtract, so "everything but the data folder"
is spelled as: every entry beside each folder on the way down to it. Entries created later in
those folders are out of reach, so a worker gets its own scratch folder (its TMPDIR).
Executing files is not restricted.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on x86_64 and arm64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 1, 1 << 2, 1 << 3
# Removing and making entries of every kind (bits 4 to 12).
_CHANGE_TREE = sum(1 << bit for bit in range(4, 13))
_REFER, _TRUNCATE = 1 << 13, 1 << 14  # Landlock ABI 2 and 3
_PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    version = _libc().syscall(
        _CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
    )
    return max(int(version), 0)


def available() -> bool:
    """Whether this kernel offers Landlock."""
    return abi_version() >= 1


def _rights() -> tuple[int, int, int]:
    """(everything handled, what a file may get, what is only read) for this kernel."""
    handled = _WRITE_FILE | _READ_FILE | _READ_DIR | _CHANGE_TREE
    file_rights = _WRITE_FILE | _READ_FILE
    if abi_version() >= 2:
        handled |= _REFER
    if abi_version() >= 3:
        handled |= _TRUNCATE
        file_rights |= _TRUNCATE
    return handled, file_rights, _READ_FILE | _READ_DIR


# The warm parent works out what lies beside the way down (listing and resolving a few hundred
# entries takes tens of milliseconds) at most once a second; the workers it forks inherit it.
_BESIDE: dict[str, tuple[float, list[str]]] = {}
_BESIDE_TTL = 1.0  # seconds: a worker sees the entries that existed about when it started


def prepare(hidden: Path) -> None:
    """Compute (in the warm parent, before forking) what a worker hiding ``hidden`` may read."""
    key = str(hidden)
    cached = _BESIDE.get(key)
    if cached is None or time.monotonic() - cached[0] > _BESIDE_TTL:
        _BESIDE[key] = (time.monotonic(), _beside(hidden))


def usable_paths(hidden: Path) -> list[str]:
    """What the worker may read and change: every entry beside the way down to ``hidden``,
    and the non-process entries of /proc plus its own."""
    cached = _BESIDE.get(str(hidden))
    paths = list(cached[1]) if cached else _beside(hidden)
    paths.append(f"/proc/{os.getpid()}")
    return paths


def _beside(hidden: Path) -> list[str]:
    hidden = hidden.resolve()
    chain = [*reversed(hidden.parents), hidden]
    paths: list[str] = []
    for folder, next_step in zip(chain, chain[1:], strict=False):
        for entry in _entries(folder):
            if entry == next_step.name or (folder == Path("/") and entry == "proc"):
                continue
            # A link beside the way down may lead into it (pytest-current -> pytest-305).
            real = (folder / entry).resolve()
            if real == hidden or hidden in real.parents or real in hidden.parents:
                continue
            paths.append(str(folder / entry))
    for entry in _entries(Path("/proc")):
        if not entry.isdigit() and entry != "self" and Path("/proc") not in hidden.parents:
            paths.append(f"/proc/{entry}")
    return paths


def _entries(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def hide(hidden: Path, readable: Sequence[Path], writable: Sequence[Path] = ()) -> bool:
    """Restrict this process for good: ``hidden`` is out of reach except ``readable`` (read
    only) and ``writable``; False (and nothing changed) without Landlock."""
    if not available():
        return False
    handled, file_rights, read_only = _rights()
    libc = _libc()
    attr = _RulesetAttr(handled)
    ruleset = int(libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0))
    if ruleset < 0:
        return False
    try:
        for path in [*usable_paths(hidden), *(str(p) for p in writable)]:
            _allow(libc, ruleset, path, handled, file_rights)
        for folder in readable:
            if folder.exists():
                _allow(libc, ruleset, str(folder.resolve()), read_only, _READ_FILE)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return int(libc.syscall(_RESTRICT_SELF, ruleset, 0)) == 0
    finally:
        os.close(ruleset)


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, dir_rights: int, file_rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # gone since it was listed, or unreachable: nothing to grant
    try:
        # A rule on a file may only grant file rights (else EINVAL).
        rights = dir_rights if os.path.isdir(path) else file_rights
        rule = _PathBeneathAttr(rights, fd)
        libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)
