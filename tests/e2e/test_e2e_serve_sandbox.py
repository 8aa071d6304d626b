"""A deployed function cannot read the server's data folder: not the secret key, not the
database, not another service's build; its own files and private assets it can."""

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
    return callback(None, seen)
"""


def test_functions_cannot_read_the_servers_secrets(servers) -> None:
    server = servers.serve()
    assets = {"/note.txt": (b"private note", "private")}
    first = deploy(server, {"/probe": (PROBE, "public")}, assets, service="one")
    other = deploy(server, {"/probe": (PROBE, "public")}, assets, service="two")
    with server.environment(first["domain"]) as env:
        r = env.get("/probe", params={"other": other["build_sid"]})
    assert r.status_code == 200, r.text
    assert json.loads(r.text) == {
        "secret": "PermissionError",
        "database": "PermissionError",
        "other_build": "PermissionError",
        "own_file": "read",
        "private_asset": "read",
        "server_environ": "PermissionError",
    }
