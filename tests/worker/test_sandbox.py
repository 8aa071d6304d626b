"""worker/sandbox.py: a sandboxed process cannot read the data folder, and can read the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from callbox.worker import sandbox

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="this kernel has no Landlock")


def in_sandbox(
    hidden: Path,
    allowed: list[Path],
    probes: list[str],
    writable: list[Path] = (),  # type: ignore[assignment]
) -> dict[str, str]:
    """Fork, restrict the child, try each probe (a path to read, or "write:", "truncate:",
    "unlink:", "mkdir:" and "roundtrip:" + path); what each attempt gave."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            results = {"hidden": str(sandbox.hide(hidden, allowed, writable))}
            for probe in probes:
                try:
                    results[probe] = _attempt(probe)
                except OSError as exc:
                    results[probe] = type(exc).__name__
            os.write(write_end, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def _attempt(probe: str) -> str:
    action, _, path = probe.rpartition(":")
    if action == "write":
        with open(path, "ab") as f:
            f.write(b"x")
    elif action == "truncate":
        os.truncate(path, 0)
    elif action == "unlink":
        os.unlink(path)
    elif action == "mkdir":
        os.mkdir(path)
    elif action == "roundtrip":  # write a new file, then read it back
        Path(path).write_text("back")
        return Path(path).read_text()
    else:
        with open(path, "rb") as f:
            f.read(1)
        return "read"
    return "done"


def test_the_data_folder_is_hidden_except_the_builds_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    mine, theirs = data / "builds" / "mine", data / "builds" / "theirs"
    for folder in (mine, theirs, data / "envs" / "deps"):
        folder.mkdir(parents=True)
    for file in (data / "secret.key", data / "callbox.db", mine / "f.py", theirs / "f.py"):
        file.write_text("x")
    (data / "envs" / "deps" / "m.py").write_text("x")
    beside = tmp_path / "beside.txt"
    beside.write_text("x")
    results = in_sandbox(
        data,
        [mine, data / "envs" / "deps"],
        [
            str(data / "secret.key"),
            str(data / "callbox.db"),
            str(theirs / "f.py"),
            str(mine / "f.py"),
            str(data / "envs" / "deps" / "m.py"),
            str(beside),
            os.__file__,  # the standard library
            f"/proc/{os.getpid()}/environ",  # the parent (the server)
            "/proc/self/status",
            "/proc/cpuinfo",
        ],
    )
    assert results.pop("hidden") == "True"
    assert results == {
        str(data / "secret.key"): "PermissionError",
        str(data / "callbox.db"): "PermissionError",
        str(theirs / "f.py"): "PermissionError",
        str(mine / "f.py"): "read",
        str(data / "envs" / "deps" / "m.py"): "read",
        str(beside): "read",
        os.__file__: "read",
        f"/proc/{os.getpid()}/environ": "PermissionError",
        "/proc/self/status": "read",
        "/proc/cpuinfo": "read",
    }


def test_the_data_folder_cannot_be_changed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build = data / "builds" / "mine"
    build.mkdir(parents=True)
    for file in (data / "secret.key", data / "callbox.db", build / "f.py"):
        file.write_text("kept")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = in_sandbox(
        data,
        [build],
        [
            f"write:{data / 'callbox.db'}",
            f"truncate:{data / 'secret.key'}",
            f"unlink:{data / 'callbox.db'}",
            f"mkdir:{data / 'blobs'}",
            f"write:{build / 'f.py'}",
            f"roundtrip:{scratch / 'note.txt'}",
            f"roundtrip:{tmp_path / 'created-later.txt'}",
        ],
        writable=[scratch],
    )
    assert results.pop("hidden") == "True"
    assert results == {
        f"write:{data / 'callbox.db'}": "PermissionError",
        f"truncate:{data / 'secret.key'}": "PermissionError",
        f"unlink:{data / 'callbox.db'}": "PermissionError",
        f"mkdir:{data / 'blobs'}": "PermissionError",
        f"write:{build / 'f.py'}": "PermissionError",  # a build is shared: read only
        f"roundtrip:{scratch / 'note.txt'}": "back",
        # beside the way down, but created after the rules: out of reach (hence the scratch)
        f"roundtrip:{tmp_path / 'created-later.txt'}": "PermissionError",
    }
    assert (data / "secret.key").read_text() == "kept" and (data / "callbox.db").exists()


def test_usable_paths_skip_the_way_down(tmp_path: Path) -> None:
    data = tmp_path / "a" / "data"
    data.mkdir(parents=True)
    (tmp_path / "b").mkdir()
    paths = sandbox.usable_paths(data)
    assert str(tmp_path / "b") in paths
    assert str(tmp_path / "a") not in paths and str(data) not in paths
    assert not any(p.startswith(str(data)) for p in paths)
    assert f"/proc/{os.getpid()}" in paths and "/proc" not in paths
