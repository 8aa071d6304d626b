"""A deployed function cannot read or change the server's data folder (the secret key, the
database, another service's build) nor reach the zygote's descriptors; its own files, private
assets and its own temporary folder it can use."""

from __future__ import annotations

import json

import pytest
from deploying import deploy

from callbox.worker import sandbox

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="this kernel has no Landlock")

PROBE = """
import json, os
from pathlib import Path


def handler(context, event, callback):
    data = Path(__file__).resolve().parents[3]
    targets = {
        "secret": data / "secret.key",
        "database": data / "callbox.db",
        "other_build": data / "builds" / event["other"] / "functions" / "probe.py",
        "own_file": Path(__file__),
        "private_asset": Path(Runtime.get_assets()["/note.txt"].path),
        "server_environ": Path(f"/proc/{os.getppid()}/environ"),
    }
    seen = {}
    for name, target in targets.items():
        try:
            target.read_bytes()
            seen[name] = "read"
        except OSError as exc:
            seen[name] = type(exc).__name__
    for name, attempt in (
        ("write_database", lambda: open(data / "callbox.db", "ab").close()),
        ("remove_secret", lambda: os.unlink(data / "secret.key")),
        ("tmp_roundtrip", _tmp_roundtrip),
        ("fds", lambda: sorted(int(fd) for fd in os.listdir("/proc/self/fd"))),
    ):
        try:
            result = attempt()
            seen[name] = "done" if result is None else result
        except OSError as exc:
            seen[name] = type(exc).__name__
    return callback(None, seen)


def _tmp_roundtrip():
    import tempfile

    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("back")
    with open(f.name) as again:
        return again.read()
"""


def test_functions_cannot_read_the_servers_secrets(servers) -> None:
    server = servers.serve()
    assets = {"/note.txt": (b"private note", "private")}
    first = deploy(server, {"/probe": (PROBE, "public")}, assets, service="one")
    other = deploy(server, {"/probe": (PROBE, "public")}, assets, service="two")
    with server.environment(first["domain"]) as env:
        r = env.get("/probe", params={"other": other["build_sid"]})
    assert r.status_code == 200, r.text
    seen_fds = json.loads(r.text)["fds"]
    assert json.loads(r.text) == {
        "secret": "PermissionError",
        "database": "PermissionError",
        "other_build": "PermissionError",
        "own_file": "read",
        "private_asset": "read",
        "server_environ": "PermissionError",
        "write_database": "PermissionError",
        "remove_secret": "PermissionError",
        "tmp_roundtrip": "back",
        "fds": seen_fds,
    }
    # 0, 1, 2, the connection to the gateway and the event loop's own: nothing of the zygote's
    assert len(seen_fds) <= 8 and seen_fds[:3] == [0, 1, 2], seen_fds
    assert (server.data / "secret.key").stat().st_size > 0
