"""The system-call filter: what it refuses, and that ordinary programs still run under it."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import threading

import pytest

from callbox.sandbox import seccomp


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_programs_are_whole_instructions_with_short_jumps(machine: str) -> None:
    code = seccomp.program(machine)
    assert len(code) % 8 == 0 and len(code) // 8 < 255  # jumps are one byte


@pytest.mark.skipif(not seccomp.available(), reason="no seccomp filter for this machine")
def test_under_the_filter_namespaces_are_refused_and_the_rest_works() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        results = []
        try:
            seccomp.install()
            libc = ctypes.CDLL(None, use_errno=True)
            results.append(str(ctypes.get_errno()) if libc.unshare(0x10000000) == -1 else "0")
            thread = threading.Thread(target=lambda: None)
            thread.start()
            thread.join()
            results.append("thread")
            done = subprocess.run(["/bin/true"], check=False).returncode  # fork and exec
            results.append(f"true {done}")
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results.append(repr(exc))
        finally:
            os.write(write, ",".join(results).encode())
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1000).decode()
    os.waitpid(pid, 0)
    assert answer == f"{errno.EPERM},thread,true 0"
