"""What ``callbox deploy`` decides before any request (commands/deploy.py): the name of the
service a first deploy creates (spec case 69; pyproject.toml's name stands for package.json's).
The deploy itself, against a real server, is in tests/e2e/test_e2e_toolkit_deploy.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import click
import pytest

from callbox.toolkit.commands.deploy import DeployFlags, _service_name
from callbox.toolkit.printer import Printer
from callbox.toolkit.session import Session


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def session(root: Path, **flags: str) -> Session[DeployFlags]:
    """What ``_service_name`` reads of a session: the flags, the project folder, the printer."""
    return cast(
        Session[DeployFlags],
        SimpleNamespace(flags=DeployFlags(**flags), root=root, printer=Printer()),
    )


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_service_name_defaults_to_the_folder(project: Path) -> None:
    assert _service_name(session(project)) == "project"


def test_service_name_from_pyproject(project: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "bananas"\n')

    assert _service_name(session(project)) == "bananas"


@pytest.mark.parametrize(
    "pyproject",
    ["[project]\nversion = '1'\n", "[project]\nname = 3\n", "[tool.x]\n"],
    ids=["no-name", "name-not-string", "no-project"],
)
def test_service_name_without_a_usable_pyproject_name_is_the_folder(
    project: Path, pyproject: str
) -> None:
    write(project / "pyproject.toml", pyproject)

    assert _service_name(session(project)) == "project"


def test_service_name_flag_wins_over_pyproject(project: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "bananas"\n')

    assert _service_name(session(project, service_name="apples")) == "apples"


def test_service_name_beats_the_deprecated_project_name(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = session(project, service_name="apples", project_name="pears")

    assert _service_name(given) == "apples"
    assert "deprecated" not in capsys.readouterr().err


def test_project_name_alone_is_used(project: Path) -> None:
    # (its deprecation warning: test_e2e_toolkit_deploy.py, test_service_names_and_conflicts)
    assert _service_name(session(project, project_name="pears")) == "pears"


@pytest.mark.parametrize(
    ("name", "unique"),
    [("My Project!", "My-Project"), ("snake_case.name", "snake-case-name"), ("a" * 60, "a" * 49)],
)
def test_a_pyproject_name_is_made_a_unique_name(project: Path, name: str, unique: str) -> None:
    write(project / "pyproject.toml", f'[project]\nname = "{name}"\n')
    assert _service_name(session(project)) == unique


@pytest.mark.parametrize("name", ["has space", "a_b", "a" * 60])
def test_an_explicit_service_name_is_used_as_given(project: Path, name: str) -> None:
    # The server refuses a bad name with its own message; callbox does not rename silently.
    assert _service_name(session(project, service_name=name)) == name


def test_a_name_with_no_usable_character_is_an_error(project: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "!!!"\n')
    with pytest.raises(click.ClickException, match="^Cannot make a service name out of"):
        _service_name(session(project))


# --- JavaScript projects: package.json's name, as Twilio's toolkit (spec case 69) -------------


def test_service_name_from_package_json(project: Path) -> None:
    write(project / "package.json", '{"name": "bananas", "dependencies": {}}')
    assert _service_name(session(project), "js") == "bananas"


def test_an_npm_name_is_made_a_unique_name(project: Path) -> None:
    write(project / "package.json", '{"name": "@acme/sms_bot.v2"}')
    assert _service_name(session(project), "js") == "acme-sms-bot-v2"


def test_package_json_wins_in_a_javascript_project(project: Path) -> None:
    write(project / "package.json", '{"name": "from-npm"}')
    write(project / "pyproject.toml", '[project]\nname = "from-python"\n')
    assert _service_name(session(project), "js") == "from-npm"
    assert _service_name(session(project), None) == "from-npm"
    # A Python project's package.json may be a web page's tooling: pyproject.toml names it.
    assert _service_name(session(project), "python") == "from-python"


def test_a_package_json_without_a_name_leaves_the_folder(project: Path) -> None:
    write(project / "package.json", '{"dependencies": {}}')
    assert _service_name(session(project), "js") == "project"
