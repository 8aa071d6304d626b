"""requirements.txt -> a build's Dependencies ({name, version}), read with packaging so that
extras, markers and ``name @ URL`` lines reach the server whole, and the server's parser reads
each entry back as the line it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callbox.builds.validate import parse_dependencies
from callbox.toolkit.deployer import read_requirements
from callbox.toolkit.errors import DeployError
from callbox.toolkit.project import Layout


def entries(tmp_path: Path, text: str) -> list[dict[str, str]]:
    (tmp_path / "requirements.txt").write_text(text)
    return read_requirements(Layout.find(tmp_path))


def test_extras_markers_and_urls_survive_the_round_trip(tmp_path: Path) -> None:
    text = (
        "requests[socks]>=2.31  # a comment\n"
        "foo @ https://host/foo-1.0-py3-none-any.whl#sha256=ab\n"
        'bar==1.0; python_version >= "3.8"\n'
        'baz @ https://host/baz.whl ; sys_platform == "linux"\n'
        "\n# only a comment\nplain\n"
    )
    found = entries(tmp_path, text)
    assert found == [
        {"name": "requests[socks]", "version": ">=2.31"},
        {"name": "foo", "version": "@ https://host/foo-1.0-py3-none-any.whl#sha256=ab"},
        {"name": "bar", "version": '==1.0; python_version >= "3.8"'},
        {"name": "baz", "version": '@ https://host/baz.whl ; sys_platform == "linux"'},
        {"name": "plain", "version": ""},
    ]
    assert parse_dependencies(json.dumps(found)).install == [
        'bar==1.0; python_version >= "3.8"',
        'baz @ https://host/baz.whl ; sys_platform == "linux"',
        "foo @ https://host/foo-1.0-py3-none-any.whl#sha256=ab",
        "plain",
        "requests[socks]>=2.31",
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [("--index-url http://x", "is a pip option"), ("foo >= = 1", "cannot read 'foo >= = 1'")],
)
def test_lines_a_build_cannot_take_are_refused(tmp_path: Path, line: str, reason: str) -> None:
    with pytest.raises(DeployError, match=reason):
        entries(tmp_path, line + "\n")
