"""The supervisor's zygote: what the processes that run users' code inherit from the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbox.gateway.supervisor import Supervisor


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ")
async def test_workers_inherit_no_server_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # From the review: workers (any tenant's code) inherited the server's whole environment,
    # CALLBOX_AUTH_TOKEN and CALLBOX_SECRET_KEY included. Workers are forks of the zygote, so
    # its environment (what /proc shows of every worker) is an allow list.
    monkeypatch.setenv("CALLBOX_AUTH_TOKEN", "b" * 32)
    monkeypatch.setenv("CALLBOX_SECRET_KEY", "k" * 44)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("CALLBOX_UNIT_HARMLESS", "x")
    monkeypatch.setenv("PGPASSWORD", "db-secret")  # any other server variable: not passed on
    monkeypatch.setenv("TZ", "Europe/Paris")  # on the allow list
    supervisor = Supervisor(max_body=1024)
    await supervisor.start()
    try:
        assert supervisor._zygote is not None
        raw = Path(f"/proc/{supervisor._zygote.pid}/environ").read_bytes()
    finally:
        await supervisor.stop()
    env = dict(entry.split("=", 1) for entry in raw.decode().split("\0") if entry)
    assert [name for name in env if name.startswith(("CALLBOX_", "TWILIO_"))] == []
    assert "PGPASSWORD" not in env
    assert env["TZ"] == "Europe/Paris" and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["MALLOC_ARENA_MAX"] == "2"
