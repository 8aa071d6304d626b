"""Which runtimes a build may ask for: Python up to the server's interpreter, Node.js up to the
server's node; the language each means and each function version declares."""

from __future__ import annotations

import pytest

from callbox.builds.runtimes import (
    check_runtime,
    language_of,
    newest_node_runtime,
    node_version,
    version_language,
)
from callbox.builds.validate import BuildFailure
from callbox.rules import RUNTIMES


def test_a_runtime_up_to_the_running_python_is_accepted() -> None:
    check_runtime("python3.11", running=(3, 11))
    check_runtime("python3.11", running=(3, 13))
    check_runtime("python3.13", running=(3, 13))


def test_a_runtime_newer_than_the_running_python_fails() -> None:
    with pytest.raises(BuildFailure) as caught:
        check_runtime("python3.13", running=(3, 11))
    assert str(caught.value).startswith(
        "python3.13 needs Python 3.13; this server runs Python 3.11."
    )


def test_an_unknown_runtime_fails_naming_the_choices() -> None:
    with pytest.raises(BuildFailure, match=r"'node16' is not supported; use one of python3.11"):
        check_runtime("node16")
    assert RUNTIMES == ("python3.11", "python3.12", "python3.13", "node18", "node20", "node22")


def test_a_node_runtime_up_to_the_servers_node_is_accepted() -> None:
    assert check_runtime("node18", node="20.18.3") == "Node.js 20.18.3"
    assert check_runtime("node20", node="20.18.3") == "Node.js 20.18.3"
    assert check_runtime("node22", node="22.14.0") == "Node.js 22.14.0"


def test_a_node_runtime_newer_than_the_servers_node_fails_saying_what_to_do() -> None:
    with pytest.raises(BuildFailure) as caught:
        check_runtime("node22", node="20.18.3")
    assert str(caught.value) == (
        "node22 needs Node.js 22; this server runs Node.js 20.18.3. Build with node20 or run "
        "the server with Node.js 22 on its PATH."
    )


def test_a_node_runtime_on_a_server_without_node_fails() -> None:
    with pytest.raises(BuildFailure, match="there is no `node` on its PATH"):
        check_runtime("node20", node="")


def test_this_servers_node_is_found_and_its_newest_runtime_is_the_default() -> None:
    version = node_version()
    assert version is not None, "the Node.js tests need node on PATH"
    major = int(version.split(".")[0])
    newest = newest_node_runtime()
    assert newest is not None and int(newest.removeprefix("node")) <= major
    assert check_runtime(newest) == f"Node.js {version}"


def test_the_runtime_decides_the_language() -> None:
    assert [language_of(r) for r in RUNTIMES] == ["python"] * 3 + ["node"] * 3


@pytest.mark.parametrize(
    ("content_type", "language"),
    [
        ("application/javascript", "node"),
        ("text/javascript; charset=utf-8", "node"),
        ("application/x-javascript", "node"),
        ("text/x-python", "python"),
        ("application/x-python", "python"),
        ("application/octet-stream", None),
        ("", None),
        (None, None),
    ],
)
def test_a_version_declares_its_language_by_content_type(
    content_type: str | None, language: str | None
) -> None:
    assert version_language(content_type) == language
