"""Control groups: a memory cap per worker, a process cap per service, and the group the
network filter is attached to. cgroup v1 (one hierarchy per controller) and v2 (one unified
hierarchy) are both supported; the layout is found once, from /proc/self/mounts.

One server owns ``callbox/<its pid>`` in each hierarchy:

    v1  memory/callbox/<pid>/<worker>          memory.limit_in_bytes
        pids/callbox/<pid>/<group>             pids.max (a group is a service or an account)
        unified/callbox/<pid>/<group>          (hybrid machines: the network filter only)
    v2  callbox/<pid>/                         the network filter is attached here
        callbox/<pid>/<group>/                 pids.max
        callbox/<pid>/<group>/<worker>/        memory.max, memory.swap.max
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT_NAME = "callbox"


@dataclass(frozen=True)
class Tree:
    """One server's cgroups; None where the machine lacks the controller."""

    version: int  # 1 or 2; 0: no usable cgroups
    memory: str | None = None
    pids: str | None = None
    net: str | None = None  # a cgroup v2 folder: where the network filter is attached

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tree:
        return cls(**data)


def hierarchies(mounts: str = "/proc/self/mounts") -> dict[str, str]:
    """Mounted hierarchies: {"memory": path, "pids": path, "unified": path} as found."""
    found: dict[str, str] = {}
    try:
        text = Path(mounts).read_text()
    except OSError:
        return found
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        path, kind, options = fields[1], fields[2], fields[3].split(",")
        if kind == "cgroup2":
            found.setdefault("unified", path)
        elif kind == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options:
                    found.setdefault(controller, path)
    return found


def _v2_controllers(root: str) -> set[str]:
    try:
        return set(Path(root, "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def create(instance: str) -> Tree:
    """Make this server's cgroups (root only); an empty Tree where that is not possible."""
    if os.geteuid() != 0:
        return Tree(0)
    found = hierarchies()
    unified = found.get("unified")
    try:
        if unified and {"memory", "pids"} <= _v2_controllers(unified):
            top = Path(unified, ROOT_NAME)
            _make(top)
            _enable(Path(unified), top)
            sweep(top)
            own = top / instance
            _make(own)
            _enable(top, own)
            return Tree(2, str(own), str(own), str(own))
        parts: dict[str, str | None] = {}
        for name, key in (("memory", "memory"), ("pids", "pids"), ("unified", "net")):
            if name in found:
                top = Path(found[name], ROOT_NAME)
                _make(top)
                sweep(top)
                _make(top / instance)
                parts[key] = str(top / instance)
        if not parts:
            return Tree(0)
        return Tree(1, parts.get("memory"), parts.get("pids"), parts.get("net"))
    except OSError:
        return Tree(0)


def _make(path: Path) -> None:
    path.mkdir(exist_ok=True)


def _enable(parent: Path, child: Path) -> None:
    """cgroup v2: let ``child``'s own children use memory and pids."""
    for folder in (parent, child):
        with contextlib.suppress(OSError):
            (folder / "cgroup.subtree_control").write_text("+memory +pids")


def sweep(top: Path) -> None:
    """Remove what servers that are gone left behind (their processes are killed first)."""
    for entry in _subfolders(top):
        if entry.name.isdigit() and _alive(int(entry.name)):
            continue
        remove_tree(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _subfolders(path: Path) -> list[Path]:
    try:
        return [entry for entry in path.iterdir() if entry.is_dir()]
    except OSError:
        return []


def remove_tree(path: Path, attempts: int = 50) -> bool:
    """Kill every process in ``path`` and below, then remove the folders, deepest first."""
    for child in _subfolders(path):
        remove_tree(child, attempts)
    for _ in range(attempts):
        for pid in _members(path):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.01)  # killed processes take a moment to leave
    return False


def _members(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def destroy(tree: Tree) -> None:
    """At server stop: kill and remove everything this server made."""
    for folder in {tree.memory, tree.pids, tree.net} - {None}:
        assert folder is not None
        remove_tree(Path(folder))


# --- in the launcher, before the fences go up ------------------------------------------


def join(tree: Tree, group: str, worker: str, memory_mb: int, pids_max: int) -> list[str]:
    """Put this process in its cgroups with its limits; returns the folders made for it alone
    (to remove when it has exited)."""
    own: list[str] = []
    if tree.version == 2 and tree.memory:
        group_dir = Path(tree.memory, group)
        if not group_dir.is_dir():
            _make(group_dir)
            _enable(Path(tree.memory), group_dir)
        if pids_max > 0:
            _write(group_dir / "pids.max", str(pids_max))
        worker_dir = group_dir / worker
        _make(worker_dir)
        own.append(str(worker_dir))
        if memory_mb > 0:
            _write(worker_dir / "memory.max", str(memory_mb << 20))
            with contextlib.suppress(OSError):  # absent without swap accounting
                _write(worker_dir / "memory.swap.max", "0")
        _write(worker_dir / "cgroup.procs", "0")
        return own
    if tree.version != 1:
        return own
    if tree.memory and memory_mb > 0:
        worker_dir = Path(tree.memory, worker)
        _make(worker_dir)
        own.append(str(worker_dir))
        _write(worker_dir / "memory.limit_in_bytes", str(memory_mb << 20))
        with contextlib.suppress(OSError):  # absent without swap accounting
            _write(worker_dir / "memory.memsw.limit_in_bytes", str(memory_mb << 20))
        _write(worker_dir / "cgroup.procs", "0")
    if tree.pids:
        group_dir = Path(tree.pids, group)
        _make(group_dir)
        if pids_max > 0:
            _write(group_dir / "pids.max", str(pids_max))
        _write(group_dir / "cgroup.procs", "0")
    if tree.net:
        group_dir = Path(tree.net, group)
        _make(group_dir)
        _write(group_dir / "cgroup.procs", "0")
    return own


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def out_of_memory(folder: str) -> bool:
    """Whether the kernel killed a process of this worker's cgroup for going over its cap."""
    for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
        try:
            text = Path(folder, name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] == key and fields[1] != "0":
                return True
    return False


def own_folders(tree: Tree, group: str, name: str) -> list[str]:
    """The folders ``join`` made for one process alone."""
    if tree.version == 2 and tree.memory:
        return [f"{tree.memory}/{group}/{name}"]
    if tree.version == 1 and tree.memory:
        return [f"{tree.memory}/{name}"]
    return []


def release(tree: Tree, group: str, name: str, attempts: int = 50) -> tuple[bool, list[str]]:
    """After a sandboxed process ended: (whether it went over its memory cap, the folders
    that could not be removed yet because processes are still leaving)."""
    oom, left = False, []
    for folder in own_folders(tree, group, name):
        oom = oom or out_of_memory(folder)
        if not remove_tree(Path(folder), attempts):
            left.append(folder)
    return oom, left
