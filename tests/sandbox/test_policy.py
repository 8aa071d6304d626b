"""The server's side of the sandbox: modes, uids, environments, the report."""

from __future__ import annotations

import os
import sys

import pytest

from callbox.config import Config
from callbox.sandbox import landlock
from callbox.sandbox.policy import (
    Sandbox,
    SandboxUnavailable,
    Settings,
    choose_mode,
    interpreter,
    python_runtime,
)


def test_off_is_off_and_an_unknown_mode_is_refused() -> None:
    assert choose_mode("off")[0] == "off"
    with pytest.raises(SandboxUnavailable, match="must be one of auto, isolated, landlock, off"):
        choose_mode("strict")


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
def test_auto_isolates_as_root() -> None:
    assert choose_mode("auto") == ("isolated", "")


def test_uids_come_from_the_configured_range() -> None:
    sandbox = Sandbox(Settings(uid_base=300_000, uid_count=10))
    assert sandbox.uid(0) == 300_000 and sandbox.uid(9) == 300_009
    with pytest.raises(SandboxUnavailable, match="CALLBOX_SANDBOX_UID_COUNT"):
        sandbox.uid(10)


def test_the_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.setenv("PGPASSWORD", "secret")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("CALLBOX_SECRET_KEY", "k")
    plain = Sandbox(Settings()).environment("/tmp")
    assert plain == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TZ": "Europe/Paris",
    }
    proxied = Sandbox(Settings(env_names=("HTTPS_PROXY", "CALLBOX_SECRET_KEY"))).environment("/x")
    assert proxied["HTTPS_PROXY"] == "http://proxy:3128"
    assert "CALLBOX_SECRET_KEY" not in proxied  # never, even when named


def test_config_turns_into_settings() -> None:
    config = Config.load(
        {
            "CALLBOX_SANDBOX": "landlock",
            "CALLBOX_NETWORK_ALLOW": ":5432, 10.0.0.1:6379",
            "CALLBOX_TMP_QUOTA_MB": "16",
            "CALLBOX_MAX_WORKERS": "4",
        }
    )
    settings = config.sandbox_settings()
    assert settings.mode == "landlock" and settings.tmp_mb == 16
    assert settings.allow == (":5432", "10.0.0.1:6379")
    assert settings.pids >= 2 * 4 * (config.handler_threads + 16)  # two builds' worth of workers


def test_runtime_paths_hold_the_interpreter_and_never_the_root() -> None:
    runtime = python_runtime()
    assert "/" not in runtime
    assert any(
        sys.prefix.startswith(p) or os.path.realpath(sys.prefix).startswith(p) for p in runtime
    )
    assert set(interpreter()) <= {os.path.realpath(p) for p in interpreter()}


def test_the_report_says_what_each_mode_enforces() -> None:
    off = Sandbox(Settings(mode="off"))
    off.start()
    rows = {name: (enforced, how) for name, enforced, how in off.report()}
    assert rows["environment"][0] is True
    assert rows["identity"] == (False, "turned off (CALLBOX_SANDBOX=off)")
    if landlock.available():
        lock = Sandbox(Settings(mode="landlock"))
        lock.start()
        rows = {name: enforced for name, enforced, _ in lock.report()}
        assert rows["files"] is True and rows["identity"] is False
