"""package.json as Twilio's toolkit reads it (packagejson.py): the name, the dependencies as a
build's Dependencies, and the @twilio/runtime-handler check (spec 7.8 and case 76)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callbox.toolkit import packagejson
from callbox.toolkit.errors import PackageJsonError, ProjectError


def write(root: Path, data: Any) -> Path:
    file = root / "package.json"
    file.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return file


def test_no_package_json(tmp_path: Path) -> None:
    assert packagejson.read(tmp_path) is None
    assert packagejson.name(tmp_path) is None
    assert packagejson.dependencies(tmp_path) == []


def test_dependencies_in_order_with_star_for_an_empty_version(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "name": "bananas",
            "dependencies": {
                "twilio": "5.0.3",
                "@twilio/runtime-handler": "2.0.3",
                "axios": "^1.7.0",
                "lodash": "",
                "left-pad": "latest",
            },
            "devDependencies": {"twilio-run": "^4.2.0"},  # never part of a build
        },
    )
    assert packagejson.name(tmp_path) == "bananas"
    assert packagejson.dependencies(tmp_path) == [
        {"name": "twilio", "version": "5.0.3"},
        {"name": "@twilio/runtime-handler", "version": "2.0.3"},
        {"name": "axios", "version": "^1.7.0"},
        {"name": "lodash", "version": "*"},
        {"name": "left-pad", "version": "latest"},
    ]


@pytest.mark.parametrize("name", [None, "", 3])
def test_a_missing_or_unusable_name_is_none(tmp_path: Path, name: object) -> None:
    write(tmp_path, {} if name is None else {"name": name})
    assert packagejson.name(tmp_path) is None


@pytest.mark.parametrize("version", ["1.1.0", "1.1.0-rc.1", "1.2.0-alpha.3", "2.0.3"])
def test_an_exact_runtime_handler_version_is_accepted(tmp_path: Path, version: str) -> None:
    write(tmp_path, {"dependencies": {"@twilio/runtime-handler": version}})
    assert packagejson.dependencies(tmp_path) == [
        {"name": "@twilio/runtime-handler", "version": version}
    ]


@pytest.mark.parametrize(
    ("version", "suggested"),
    [
        ("^1.2.3", "1.2.3"),
        ("~1.2.0", "1.2.0"),
        ("~1.2", "1.2.0"),
        ("1.x", "1.0.0"),
        (">=1.2.7", "1.2.7"),
        ("*", packagejson.RUNTIME_HANDLER_VERSION),
        ("next", packagejson.RUNTIME_HANDLER_VERSION),
    ],
)
def test_a_runtime_handler_range_is_refused_with_a_suggestion(
    tmp_path: Path, version: str, suggested: str
) -> None:
    write(tmp_path, {"dependencies": {"@twilio/runtime-handler": version}})
    with pytest.raises(PackageJsonError) as caught:
        packagejson.dependencies(tmp_path)
    message = str(caught.value)
    assert message.startswith("Invalid @twilio/runtime-handler version in ")
    assert f'found "{version}". Use "{suggested}".' in message


def test_a_runtime_handler_only_in_dev_dependencies_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"devDependencies": {"@twilio/runtime-handler": "2.0.3"}})
    with pytest.raises(PackageJsonError, match="Wrongly configured @twilio/runtime-handler"):
        packagejson.dependencies(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        ("[]", "must hold a JSON object; found list"),
        ('{"dependencies": ["axios"]}', '"dependencies" must be an object of name -> version'),
        ('{"dependencies": {"axios": 1}}', 'the version of "axios" must be a string'),
    ],
)
def test_unusable_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(PackageJsonError, match="package.json") as caught:
        packagejson.dependencies(tmp_path)
    assert message in str(caught.value)
    assert isinstance(caught.value, ProjectError)  # one line from the CLI, no traceback


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(PackageJsonError, match="is not UTF-8 text"):
        packagejson.read(tmp_path)
