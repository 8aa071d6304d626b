"""A system-call filter (seccomp, classic BPF): the calls a function never needs and that only
widen the kernel's attack surface fail with EPERM, as in Docker's default profile.

Refused: new namespaces (``unshare``, ``setns``, ``clone`` with a CLONE_NEW* flag; ``clone3``
answers ENOSYS so the C library falls back to ``clone``), mounting, ``ptrace``, eBPF,
``perf_event_open``, keyrings, ``userfaultfd``, io_uring, kernel modules and ``kexec``,
``reboot``, swap, accounting, quotas, file handles, ``syslog``, ``personality``; on x86_64 also
the x32 and 32-bit entry points. Everything else is allowed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from callbox.sandbox import linux

_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000
_CLONE_NEW = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (and NEWTIME's bit)

# Names -> numbers, per machine (x86_64: arch/x86/entry/syscalls; arm64: the generic table).
_DENIED = {
    "x86_64": {
        "unshare": 272,
        "setns": 308,
        "mount": 165,
        "umount2": 166,
        "pivot_root": 155,
        "chroot": 161,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "ptrace": 101,
        "bpf": 321,
        "perf_event_open": 298,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "userfaultfd": 323,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "kexec_load": 246,
        "kexec_file_load": 320,
        "reboot": 169,
        "swapon": 167,
        "swapoff": 168,
        "acct": 163,
        "quotactl": 179,
        "open_by_handle_at": 304,
        "name_to_handle_at": 303,
        "syslog": 103,
        "personality": 135,
        "iopl": 172,
        "ioperm": 173,
        "uselib": 134,
    },
    "aarch64": {
        "unshare": 97,
        "setns": 268,
        "mount": 40,
        "umount2": 39,
        "pivot_root": 41,
        "chroot": 51,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "ptrace": 117,
        "bpf": 280,
        "perf_event_open": 241,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "userfaultfd": 282,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "kexec_load": 104,
        "kexec_file_load": 294,
        "reboot": 142,
        "swapon": 224,
        "swapoff": 225,
        "acct": 89,
        "quotactl": 60,
        "open_by_handle_at": 265,
        "name_to_handle_at": 264,
        "syslog": 116,
        "personality": 92,
    },
}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435

# Classic BPF.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
# struct seccomp_data: nr (0), arch (4), instruction_pointer (8), args[6] (16, 24, ...).
_NR, _ARCH, _ARG0_LOW = 0, 4, 16 if struct.pack("=I", 1)[0] == 1 else 20


def available() -> bool:
    return linux.machine_supported()


def _stmt(code: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, 0, 0, k & 0xFFFFFFFF)


def _jump(code: int, k: int, if_true: int, if_false: int) -> bytes:
    return struct.pack("=HBBI", code, if_true, if_false, k & 0xFFFFFFFF)


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (this one by default)."""
    machine = machine or platform.machine()
    denied = sorted(set(_DENIED[machine].values()))
    refuse = _SECCOMP_RET_ERRNO | errno.EPERM
    code = [
        _stmt(_LD_W_ABS, _ARCH),
        _jump(_JEQ_K, _AUDIT_ARCH[machine], 1, 0),
        _stmt(_RET_K, refuse),  # another ABI (32-bit entry points): refused wholesale
        _stmt(_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":
        code += [_jump(_JGE_K, _X32_BIT, 0, 1), _stmt(_RET_K, refuse)]
    code += [_jump(_JEQ_K, _CLONE3, 0, 1), _stmt(_RET_K, _SECCOMP_RET_ERRNO | errno.ENOSYS)]
    code += [
        _jump(_JEQ_K, _CLONE[machine], 0, 3),
        _stmt(_LD_W_ABS, _ARG0_LOW),  # clone's flags
        _jump(_JSET_K, _CLONE_NEW, 0, 1),
        _stmt(_RET_K, refuse),
        # (after a clone without namespace flags, fall through to the list: not in it)
    ]
    # Reload nr (the clone check may have replaced the accumulator), then the list.
    code.append(_stmt(_LD_W_ABS, _NR))
    for index, number in enumerate(denied):
        remaining = len(denied) - index - 1
        code.append(_jump(_JEQ_K, number, remaining + 1, 0))
    code.append(_stmt(_RET_K, _SECCOMP_RET_ALLOW))
    code.append(_stmt(_RET_K, refuse))
    return b"".join(code)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> bool:
    """Filter this thread and everything it starts, for good (no_new_privs must be set);
    False where seccomp is not available."""
    if not available():
        return False
    code = program()
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.addressof(buffer))
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.check(
        int(
            linux.libc().syscall(
                linux.syscall_number("seccomp"), _SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)
            )
        ),
        "seccomp",
    )
    return True
