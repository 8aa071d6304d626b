"""Fences cross a process boundary as JSON and come back the same."""

from __future__ import annotations

import json

from callbox.sandbox.cgroups import Tree
from callbox.sandbox.fences import Fences


def test_fences_survive_a_trip_through_json() -> None:
    fences = Fences(
        mode="isolated",
        uid=200_007,
        group="s7",
        readable=("/srv/build", "/srv/env"),
        writable=("/srv/cache",),
        hidden=("/srv",),
        tmp_mb=16,
        memory_mb=128,
        pids=64,
        env={"PATH": "/usr/bin", "HOME": "/tmp"},
        cgroups=Tree(1, "/sys/fs/cgroup/memory/callbox/1", "/sys/fs/cgroup/pids/callbox/1"),
        stage="/run/callbox/root",
    )
    assert Fences.from_dict(json.loads(json.dumps(fences.to_dict()))) == fences


def test_the_default_is_no_cgroups_and_nothing_extra() -> None:
    fences = Fences.from_dict({"mode": "off"})
    assert fences.cgroups == Tree(0) and fences.readable == () and fences.uid == -1
