"""cgroups: the layout found from /proc/self/mounts, and limits the kernel enforces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callbox.sandbox import cgroups

HYBRID = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
"""
PURE_V2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"


def test_a_hybrid_machine_has_v1_controllers_and_a_v2_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "mounts").write_text(HYBRID)
    assert cgroups.hierarchies(str(tmp_path / "mounts")) == {
        "unified": "/sys/fs/cgroup/unified",
        "memory": "/sys/fs/cgroup/memory",
        "pids": "/sys/fs/cgroup/pids",
    }


def test_a_v2_machine_has_one_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "mounts").write_text(PURE_V2)
    assert cgroups.hierarchies(str(tmp_path / "mounts")) == {"unified": "/sys/fs/cgroup"}


def test_own_folders_name_what_one_process_alone_uses() -> None:
    v1 = cgroups.Tree(1, "/m/callbox/9", "/p/callbox/9", "/u/callbox/9")
    v2 = cgroups.Tree(2, "/c/callbox/9", "/c/callbox/9", "/c/callbox/9")
    assert cgroups.own_folders(v1, "s3", "w1") == ["/m/callbox/9/w1"]
    assert cgroups.own_folders(v2, "s3", "w1") == ["/c/callbox/9/s3/w1"]
    assert cgroups.own_folders(cgroups.Tree(0), "s3", "w1") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root")
def test_a_process_over_its_memory_cap_is_killed_and_that_is_known() -> None:
    tree = cgroups.create(f"test{os.getpid()}")
    if not tree.memory:
        pytest.skip("no memory controller here")
    try:
        pid = os.fork()
        if pid == 0:
            try:
                cgroups.join(tree, "s1", "w1", memory_mb=32, pids_max=16)
                block = bytearray(64 << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        oom, left = cgroups.release(tree, "s1", "w1")
        assert oom and left == []
    finally:
        cgroups.destroy(tree)
    assert not any(Path(p).exists() for p in (tree.memory, tree.pids, tree.net) if p)


@pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root")
def test_a_group_cannot_start_more_processes_than_its_cap() -> None:
    tree = cgroups.create(f"test{os.getpid()}")
    if not tree.pids:
        pytest.skip("no pids controller here")
    hold_read, hold_write = os.pipe()  # children wait on it until the test ends
    result_read, result_write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            started = 0
            try:
                cgroups.join(tree, "s2", "w2", memory_mb=0, pids_max=8)
                while started < 50:
                    child = os.fork()
                    if child == 0:
                        os.read(hold_read, 1)
                        os._exit(0)
                    started += 1
            except OSError:
                pass
            finally:
                os.write(result_write, str(started).encode())
                os._exit(0)
        os.close(result_write)
        started = int(os.read(result_read, 8))
        os.waitpid(pid, 0)
        assert started == 7  # itself and seven children make eight
    finally:
        os.close(hold_write)  # the children end
        os.close(hold_read)
        os.close(result_read)
        cgroups.destroy(tree)
