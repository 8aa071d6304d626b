"""A hostile function: each ``event["attack"]`` tries to get out of the sandbox and reports what
it got. Every attempt is expected to fail; the test decides (never this file)."""

import errno
import json
import os
import platform
import socket
import time


def _try(action):
    try:
        result = action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is the answer
        return type(exc).__name__
    return "done" if result is None else result


def _read(path):
    with open(path, "rb") as f:
        f.read(1)
    return "read"


def _write(path):
    with open(path, "ab") as f:
        f.write(b"pwned\n")
    return "written"


def identity(event):
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups()}


def files(event):
    found = {}
    for name, path in json.loads(event["read"]).items():
        found[f"read {name}"] = _try(lambda p=path: _read(p))
    for name, path in json.loads(event["write"]).items():
        found[f"write {name}"] = _try(lambda p=path: _write(p))
    found["proc"] = _try(lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
    return found


def quota(event):
    """Fill /tmp until the quota says no."""
    written = 0
    chunk = b"\0" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as f:
            while written < 1 << 30:
                f.write(chunk)
                f.flush()
                written += len(chunk)
        outcome = "no limit"
    except OSError as exc:
        outcome = errno.errorcode.get(exc.errno, "OSError")
    finally:
        os.unlink("/tmp/fill")
    return {"written_mb": written >> 20, "outcome": outcome}


def forkbomb(event):
    started = 0
    outcome = "no limit"
    for _ in range(int(event.get("count", 500))):
        try:
            pid = os.fork()
        except OSError as exc:
            outcome = errno.errorcode.get(exc.errno, "OSError")
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    return {"started": started, "outcome": outcome}


def daemon(event):
    """Double fork and a new session: a process meant to outlive the request and the worker."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(120)
        os._exit(0)
    os.waitpid(pid, 0)
    return {"started": True}


def network(event):
    found = {}
    for target in json.loads(event["targets"]):
        host, port = target.rsplit(":", 1)

        def connect(h=host.strip("[]"), p=int(port)):
            with socket.create_connection((h, p), timeout=3):
                return "connected"

        found[target] = _try(connect)
    return found


def environment(event):
    return dict(os.environ)


def signals(event):
    found = {}
    for name, pid in json.loads(event["pids"]).items():
        found[name] = _try(lambda p=pid: os.kill(p, 0))
    found["everyone"] = _try(lambda: os.kill(-1, 0))
    return found


def memory(event):
    size = int(event["mb"]) << 20
    block = bytearray(size)
    for i in range(0, size, 4096):  # touch every page: resident, not just reserved
        block[i] = 1
    return {"allocated_mb": size >> 20}


def syscalls(event):
    """Kernel surface a function has no use for: namespaces, mounts, ptrace, keyrings."""
    import ctypes
    import threading

    libc = ctypes.CDLL(None, use_errno=True)
    keyctl = {"x86_64": 250, "aarch64": 219}[platform.machine()]

    def call(result):
        if result == -1:
            raise OSError(ctypes.get_errno(), "refused")

    found = {
        "user namespace": _try(lambda: call(libc.unshare(0x10000000))),
        "mount": _try(lambda: call(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))),
        "ptrace": _try(lambda: call(libc.ptrace(0, 0, None, None))),  # PTRACE_TRACEME
        # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING): no wrapper in the C library
        "keyring": _try(lambda: call(libc.syscall(keyctl, 0, -3, 0))),
    }
    thread = threading.Thread(target=lambda: None)  # ordinary clone() still works
    thread.start()
    thread.join()
    found["thread"] = "started"
    return found


def forge(event):
    # Lines meant to pass for the server's own in its output (below sys.stdout: the raw fds).
    line = (event["line"] + "\n").encode()
    os.write(1, line)
    os.write(2, line)
    return {"written": True}


ATTACKS = {
    "forge": forge,
    "syscalls": syscalls,
    "identity": identity,
    "files": files,
    "quota": quota,
    "forkbomb": forkbomb,
    "daemon": daemon,
    "network": network,
    "environment": environment,
    "signals": signals,
    "memory": memory,
}


def handler(context, event, callback):
    return callback(None, ATTACKS[event["attack"]](event))
