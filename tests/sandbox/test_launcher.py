"""The launcher, in a forked child: what a process can see and do once ``enter`` returned."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from callbox.sandbox import landlock, launcher
from callbox.sandbox.fences import Fences
from callbox.sandbox.policy import Sandbox, Settings, python_runtime


def inside(fences: Fences, probe: Callable[[], dict], *, new_pid_namespace: bool = False) -> dict:
    """Fork, enter ``fences`` in the child, run ``probe`` there; what it returned."""
    read, write = os.pipe()
    pid = launcher.fork(new_pid_namespace)
    if pid == 0:
        try:
            os.close(read)
            launcher.enter(fences, f"test{os.getpid()}")
            os.write(write, json.dumps(probe()).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            os.write(write, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def attempt(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return type(exc).__name__
    return "ok"


def files_probe(secret: Path, build: Path, scratch: Path) -> Callable[[], dict]:
    def probe() -> dict:
        return {
            "secret": attempt(secret.read_bytes),
            "build": attempt((build / "f.py").read_bytes),
            "write build": attempt(lambda: (build / "x").write_text("x")),
            "scratch": attempt(lambda: (scratch / "x").write_text("x")),
            "env": dict(os.environ),
            "uid": os.getuid(),
        }

    return probe


@pytest.mark.skipif(not landlock.available(), reason="this kernel has no Landlock")
def test_landlock_mode_keeps_a_process_to_its_build_and_scratch(tmp_path: Path) -> None:
    secret, build, scratch = tmp_path / "secret.key", tmp_path / "build", tmp_path / "scratch"
    secret.write_text("k")
    build.mkdir()
    (build / "f.py").write_text("x = 1\n")
    scratch.mkdir()
    fences = Fences(
        "landlock",
        readable=(str(build), *python_runtime()),
        scratch=str(scratch),
        env={"PATH": "/usr/bin", "HOME": str(scratch)},
    )
    seen = inside(fences, files_probe(secret, build, scratch))
    assert seen["secret"] == "PermissionError"
    assert seen["build"] == "ok" and seen["write build"] == "PermissionError"
    assert seen["scratch"] == "ok"
    assert seen["env"] == {"PATH": "/usr/bin", "HOME": str(scratch)}


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
def test_isolated_mode_shows_only_the_build_as_another_user(tmp_path: Path) -> None:
    secret, build = tmp_path / "secret.key", tmp_path / "build"
    secret.write_text("k")
    build.mkdir()
    (build / "f.py").write_text("x = 1\n")
    build.chmod(0o755)
    (build / "f.py").chmod(0o644)
    sandbox = Sandbox(Settings(uid_base=250_000), hidden=[tmp_path])
    sandbox.start()
    try:
        fences = sandbox.fences(slot=3, group="s3", readable=[str(build), *python_runtime()])
        seen = inside(fences, files_probe(secret, build, Path("/tmp")), new_pid_namespace=True)
    finally:
        sandbox.close()
    assert seen["uid"] == 250_003
    assert seen["secret"] == "FileNotFoundError"  # not even there
    assert seen["build"] == "ok" and seen["write build"] == "OSError"  # read-only file system
    assert seen["scratch"] == "ok"
    assert seen["env"]["HOME"] == "/tmp"
