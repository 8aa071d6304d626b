"""A uv that never finishes, as with a package index that never answers, and its processes."""

from __future__ import annotations

import time
from pathlib import Path


def make_stuck_uv(folder: Path) -> tuple[Path, Path]:
    """The script, and the file where it writes its own and its child's process ids.

    It starts a child of its own first (as uv starts build backends): both must be killed. The
    file appears once both run.
    """
    pids = folder / "stuck-uv.pids"
    script = folder / "stuck-uv"
    script.write_text(
        f'#!/bin/sh\nsleep 300 &\necho "$$ $!" > "{pids}.tmp"\nmv "{pids}.tmp" "{pids}"\n'
        "sleep 300\n"
    )
    script.chmod(0o755)
    return script, pids


def started(pids: Path, timeout: float = 10) -> list[int]:
    """The stuck uv's process ids, once it has started its child."""
    deadline = time.monotonic() + timeout
    while not pids.exists():
        assert time.monotonic() < deadline, "the stuck uv did not start"
        time.sleep(0.02)
    return [int(pid) for pid in pids.read_text().split()]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie nobody has reaped yet does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def gone(pids: list[int], timeout: float = 5) -> bool:
    """Whether every process has ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
