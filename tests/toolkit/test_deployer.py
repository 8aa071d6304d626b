"""What ``deploy_project`` (toolkit/deployer.py) decides from the project alone, before any
request: the build's Dependencies and their wire form, and the runtime a project may ask for.
The deploy itself, against a real server, is in tests/e2e/test_e2e_toolkit_deploy.py and
tests/e2e/test_e2e_toolkit_javascript.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callbox.builds.validate import dependencies_field
from callbox.toolkit.deployer import (
    DeployRequest,
    check_runtime,
    deploy_project,
    read_dependencies,
    runtime_language,
)
from callbox.toolkit.errors import DeployError, ProjectError
from callbox.toolkit.project import Layout


def write(root: Path, relative: str, text: str = "") -> None:
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_text(text, encoding="utf-8")


def test_dependencies_field_is_twilios_quoted_compact_json() -> None:
    # serverless-api's triggerBuild: `"${JSON.stringify(dependencies)}"` (spec 7.9 step 6).
    entries = [{"name": "twilio", "version": "5.0.3"}, {"name": "lodash", "version": "*"}]
    field = dependencies_field(entries)
    assert field == '"[{"name":"twilio","version":"5.0.3"},{"name":"lodash","version":"*"}]"'
    assert json.loads(field[1:-1]) == entries


def test_a_javascript_project_takes_package_json_dependencies(tmp_path: Path) -> None:
    write(tmp_path, "functions/a.js")
    write(tmp_path, "requirements.txt", "requests\n")  # not this project's language
    write(tmp_path, "package.json", json.dumps({"dependencies": {"axios": "^1.7.0", "ms": ""}}))
    layout = Layout.find(tmp_path)
    assert read_dependencies(layout, "js") == [
        {"name": "axios", "version": "^1.7.0"},
        {"name": "ms", "version": "*"},
    ]
    assert read_dependencies(layout, "python") == [{"name": "requests", "version": ""}]


def test_a_bad_package_json_is_a_deploy_error(tmp_path: Path) -> None:
    write(tmp_path, "package.json", '{"dependencies": {"@twilio/runtime-handler": "^2.0.0"}}')
    with pytest.raises(DeployError, match="Invalid @twilio/runtime-handler version"):
        read_dependencies(Layout.find(tmp_path), "js")


@pytest.mark.parametrize(
    ("runtime", "language"),
    [
        ("node18", "js"),
        ("node22", "js"),
        ("python3.12", "python"),
        ("ruby3", None),
    ],
)
def test_runtime_language(runtime: str, language: str | None) -> None:
    assert runtime_language(runtime) == language


@pytest.mark.parametrize(
    ("runtime", "language"),
    [
        (None, "js"),
        ("node20", "js"),
        ("python3.11", "python"),
        ("node22", None),  # assets only: any runtime
        ("ruby3", "js"),  # unknown: the server says what it accepts
    ],
)
def test_a_runtime_of_the_project_language_passes(
    tmp_path: Path, runtime: str | None, language: str | None
) -> None:
    check_runtime(runtime, language, Layout.find(tmp_path))  # type: ignore[arg-type]


def test_a_runtime_of_the_other_language_is_refused(tmp_path: Path) -> None:
    layout = Layout.find(tmp_path)
    with pytest.raises(DeployError) as caught:
        check_runtime("python3.12", "js", layout)
    message = str(caught.value)
    assert "The runtime python3.12 runs Python, but the functions of" in message
    assert "are JavaScript (.js files). Deploy with --runtime node22" in message
    with pytest.raises(DeployError, match="runs JavaScript, but .* are Python \\(.py files\\)"):
        check_runtime("node22", "python", layout)


class NoRequests:
    """An API client that fails the test if deploy_project sends anything."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"deploy_project used the API ({name}) before refusing the project")


@pytest.mark.parametrize(
    ("files", "runtime", "error", "message"),
    [
        ({"functions/a.py": "", "functions/b.js": ""}, None, ProjectError, "functions/b.js"),
        ({"functions/a.js": ""}, "python3.11", DeployError, "runs Python"),
        (
            {"functions/a.js": "", "package.json": '{"dependencies": {"x": 1}}'},
            None,
            DeployError,
            'the version of "x" must be a string',
        ),
    ],
)
def test_a_project_problem_stops_before_any_request(
    tmp_path: Path, files: dict[str, str], runtime: str | None, error: type, message: str
) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    request = DeployRequest(Layout.find(tmp_path), service_name="x", runtime=runtime)
    with pytest.raises(error, match=message):
        deploy_project(NoRequests(), request)  # type: ignore[arg-type]
