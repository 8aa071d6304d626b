"""Installing requirements with uv, offline: a hand-made wheel in a find-links folder."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stuck_uv import gone, started

from callbox.builds import dependencies
from callbox.builds.dependencies import (
    DependencyError,
    Installs,
    InstallStopped,
    install,
    requirement_lines,
    requirements_hash,
)
from callbox.config import Config


def offline(find_links: Path) -> Config:
    return Config(no_index=True, find_links=str(find_links))


# --- requirement_lines and the hash -----------------------------------------------------


def test_requirement_lines_strip_comments_and_blank_lines() -> None:
    text = (
        "# the project's dependencies\n"
        "\n"
        "requests==2.31.0  # pinned\n"
        "   \n"
        "  twilio>=9  \n"
        "\t# indented comment\n"
        "tinyunit\n"
    )
    assert requirement_lines(text) == ["requests==2.31.0", "twilio>=9", "tinyunit"]


def test_requirement_lines_of_nothing() -> None:
    assert requirement_lines("") == []
    assert requirement_lines("# only\n\n   # comments\n") == []


def test_requirement_lines_keep_url_fragments() -> None:
    line = "tinyunit @ https://example.com/tinyunit-0.1-py3-none-any.whl#sha256=abc123"
    assert requirement_lines(line + "  # a comment\n") == [line]


def test_hash_is_order_independent_and_content_sensitive() -> None:
    one = requirements_hash(["a==1", "b==2"])
    assert one == requirements_hash(["b==2", "a==1"])
    assert one != requirements_hash(["a==1", "b==3"])
    assert one != requirements_hash(["a==1"])
    assert len(one) == 64 and int(one, 16) >= 0


def test_hash_ignores_comments_through_requirement_lines() -> None:
    first = requirements_hash(requirement_lines("a==1\nb==2\n"))
    second = requirements_hash(requirement_lines("# deps\nb==2  # why\n\na==1\n"))
    assert first == second


# --- install ----------------------------------------------------------------------------


def test_only_comments_installs_nothing(tmp_path: Path) -> None:
    target = tmp_path / "site-packages"
    assert install("# nothing here\n\n", target, offline(tmp_path / "wheels")) is False
    assert not target.exists()


def test_a_bad_requirement_raises_naming_it(tmp_path: Path, wheels: Path) -> None:
    target = tmp_path / "site-packages"
    with pytest.raises(DependencyError) as caught:
        install("callbox-unit-no-such-package==1.0\n", target, offline(wheels))
    message = str(caught.value)
    assert message.startswith("Installing callbox-unit-no-such-package==1.0 failed:\n")
    assert "callbox-unit-no-such-package" in message.split("\n", 1)[1]  # uv's explanation
    assert not (target / ".requirements-sha256").exists()


def test_an_unparsable_requirement_raises(tmp_path: Path, wheels: Path) -> None:
    with pytest.raises(DependencyError, match=r"Installing not a valid \(requirement failed"):
        install("not a valid (requirement\n", tmp_path / "site", offline(wheels))


def test_install_a_wheel_from_find_links_then_skip_when_unchanged(
    tmp_path: Path, wheels: Path, make_wheel: Callable[..., Path]
) -> None:
    make_wheel("tinyunit")
    target = tmp_path / "site-packages"
    config = offline(wheels)
    assert install("tinyunit==0.1  # tiny\n", target, config) is True
    assert (target / "tinyunit.py").read_text() == 'VALUE = "tinyunit 0.1 works"\n'
    assert (target / "tinyunit-0.1.dist-info" / "METADATA").is_file()
    stamp = (target / ".requirements-sha256").read_text().strip()
    assert stamp == requirements_hash(["tinyunit==0.1"])
    # The same set again (comments and order do not matter): cached by hash.
    assert install("# again\ntinyunit==0.1\n", target, config) is False


def test_a_changed_requirement_set_installs_again(
    tmp_path: Path, wheels: Path, make_wheel: Callable[..., Path]
) -> None:
    make_wheel("tinyunit", "0.1")
    make_wheel("tinyunit", "0.2")
    target = tmp_path / "site-packages"
    config = offline(wheels)
    assert install("tinyunit==0.1\n", target, config) is True
    assert install("tinyunit==0.2\n", target, config) is True
    assert (target / "tinyunit.py").read_text() == 'VALUE = "tinyunit 0.2 works"\n'
    assert install("tinyunit==0.2\n", target, config) is False


def test_uv_gets_the_servers_environment_without_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: uv, and any package build backend it runs for a tenant's dependency,
    # inherited CALLBOX_AUTH_TOKEN and CALLBOX_SECRET_KEY.
    monkeypatch.setenv("CALLBOX_AUTH_TOKEN", "b" * 32)
    monkeypatch.setenv("CALLBOX_SECRET_KEY", "k" * 44)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("UNIT_KEPT", "kept")
    started: list[tuple[list[str], dict[str, str]]] = []

    class FakeUv:
        """Popen as Installs.run uses it: uv "succeeds" at once, having installed nothing."""

        returncode = 0
        pid = -1  # never killed: it has ended

        def __init__(self, command: list[str], *, env: dict[str, str], **_kw: Any) -> None:
            started.append((command, env))

        def communicate(self, timeout: float | None = None) -> tuple[str, str]:
            return "", ""

    monkeypatch.setattr(dependencies.subprocess, "Popen", FakeUv)
    assert install("six==1.16.0\n", tmp_path / "site-packages", Config()) is True
    [(command, env)] = started
    assert command[1:3] == ["pip", "install"] and command[-1] == "six==1.16.0"
    assert [name for name in env if name.upper().startswith(("CALLBOX_", "TWILIO_"))] == []
    assert env["UNIT_KEPT"] == "kept" and env["PATH"] == os.environ["PATH"]
    assert env["UV_NO_PROGRESS"] == "1"


# --- stuck installs ---------------------------------------------------------------------


def test_an_install_past_the_timeout_is_killed_with_its_children(
    tmp_path: Path, stuck_uv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dependencies, "INSTALL_TIMEOUT", 1)
    target = tmp_path / "site-packages"
    began = time.monotonic()
    with pytest.raises(DependencyError) as caught:
        install("six==1.16.0\n", target, Config())
    assert time.monotonic() - began < 10
    assert str(caught.value).startswith(
        "Installing dependencies took longer than 1 s and was stopped; check that the package "
        "index answers"
    )
    assert gone(started(stuck_uv))  # uv and the child it started
    assert not (target / ".requirements-sha256").exists()


def test_stop_kills_running_installs_and_refuses_new_ones(tmp_path: Path, stuck_uv: Path) -> None:
    installs = Installs()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            install("six==1.16.0\n", tmp_path / "site-packages", Config(), installs)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pids = started(stuck_uv)
    # In the server's process group: a signal to the whole group (Ctrl+C) reaches uv too.
    assert {os.getpgid(pid) for pid in pids} == {os.getpgrp()}
    installs.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], InstallStopped), failures
    assert gone(pids)
    with pytest.raises(InstallStopped, match="The server is stopping"):
        install("six==1.16.0\n", tmp_path / "other", Config(), installs)
