"""Installing requirements with uv, offline: a hand-made wheel in a find-links folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from callbox.builds.dependencies import (
    DependencyError,
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
