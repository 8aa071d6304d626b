from __future__ import annotations

import os
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from callbox.toolkit import rcfile
from callbox.toolkit.rcfile import (
    RcError,
    RcFile,
    environment_suffix,
    find_config,
    given_names,
    merge,
    normalise,
    snake_case,
    specialize,
)

ACCOUNT = "AC" + "0" * 32
SERVICE = "ZS" + "1" * 32


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def project(home: Path) -> Path:
    folder = home / "code" / "app"
    folder.mkdir(parents=True)
    return folder


# --- Discovery -----------------------------------------------------------------------------

# Each search place with a config in its own format, in the order they are tried.
PLACES = [
    ("pyproject.toml", '[tool.callbox]\nserviceSid = "from-pyproject"\n'),
    (".twilioserverlessrc", '{serviceSid: "from-rc", /* JSON5 */}'),
    (".twilioserverlessrc.json", '{"serviceSid": "from-rc-json"}'),
    (".twilioserverlessrc.yaml", "serviceSid: from-rc-yaml\n"),
    (".twilioserverlessrc.yml", "serviceSid: from-rc-yml\n"),
    (".config/twilioserverlessrc", "{serviceSid: 'from-config'}"),
    (".config/twilioserverlessrc.json", '{"serviceSid": "from-config-json"}'),
    (".config/twilioserverlessrc.yaml", "serviceSid: from-config-yaml\n"),
    (".config/twilioserverlessrc.yml", "serviceSid: from-config-yml\n"),
]


@pytest.mark.parametrize(("place", "text"), PLACES, ids=[place for place, _ in PLACES])
def test_each_search_place_is_found(project: Path, home: Path, place: str, text: str) -> None:
    path = write(project / place, text)

    rc = find_config(project, home=home)

    assert rc.path == path.resolve()
    assert rc.data["service_sid"].startswith("from-")


def test_search_places_are_tried_in_order(project: Path, home: Path) -> None:
    for place, text in PLACES:
        write(project / place, text)
    for place, _ in PLACES:
        rc = find_config(project, home=home)
        assert rc.path == (project / place).resolve()
        (project / place).unlink()
    assert find_config(project, home=home) == RcFile(None, {})


def test_no_config_anywhere_gives_empty(project: Path, home: Path) -> None:
    assert find_config(project, home=home) == RcFile(None, {})


def test_walks_upward_to_the_nearest_file(project: Path, home: Path) -> None:
    write(home / ".twilioserverlessrc", '{"port": 1}')
    nearer = write(home / "code" / ".twilioserverlessrc.yml", "port: 2\n")
    deep = project / "functions" / "sms"
    deep.mkdir(parents=True)

    rc = find_config(deep, home=home)

    assert rc.path == nearer.resolve()
    assert rc.data == {"port": 2}


def test_home_itself_is_searched(project: Path, home: Path) -> None:
    path = write(home / ".twilioserverlessrc", '{"port": 1}')
    assert find_config(project, home=home).path == path.resolve()


def test_search_stops_at_home(project: Path, home: Path) -> None:
    write(home.parent / ".twilioserverlessrc", '{"port": 1}')  # above home: never read
    assert find_config(project, home=home) == RcFile(None, {})


def test_start_outside_home_walks_to_the_root(tmp_path: Path) -> None:
    write(tmp_path / ".twilioserverlessrc", '{"port": 7}')
    start = tmp_path / "elsewhere" / "app"
    start.mkdir(parents=True)

    rc = find_config(start, home=tmp_path / "unrelated-home")

    assert rc.path == (tmp_path / ".twilioserverlessrc").resolve()


def test_home_defaults_to_the_user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "user"
    project = home / "app"
    project.mkdir(parents=True)
    write(tmp_path / ".twilioserverlessrc", "{port: 1}")
    monkeypatch.setenv("HOME", str(home))

    assert find_config(project) == RcFile(None, {})


def test_pyproject_without_callbox_table_is_skipped(project: Path, home: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "app"\n[tool.ruff]\nline-length = 99\n')
    rc_path = write(project / ".twilioserverlessrc.yml", "port: 4\n")

    assert find_config(project, home=home).path == rc_path.resolve()


def test_pyproject_without_table_lets_search_continue_upward(project: Path, home: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "app"\n')
    parent = write(
        home / "code" / "pyproject.toml", "[tool.callbox.commands.deploy]\nforce = true\n"
    )

    rc = find_config(project, home=home)

    assert rc.path == parent.resolve()
    assert rc.data == {"commands": {"deploy": {"force": True}}}


def test_pyproject_with_empty_table_counts(project: Path, home: Path) -> None:
    path = write(project / "pyproject.toml", "[tool.callbox]\n")
    write(project / ".twilioserverlessrc", "{port: 1}")

    assert find_config(project, home=home) == RcFile(path.resolve(), {})


def test_json5_file_is_not_searched(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.json5", "{port: 1}")
    assert find_config(project, home=home) == RcFile(None, {})


def test_folder_named_like_a_config_is_ignored(project: Path, home: Path) -> None:
    (project / ".twilioserverlessrc").mkdir()
    path = write(project / ".twilioserverlessrc.yml", "port: 1\n")
    assert find_config(project, home=home).path == path.resolve()


@pytest.mark.parametrize(
    "place",
    [
        ".twilioserverlessrc.js",
        ".twilioserverlessrc.cjs",
        ".config/twilioserverlessrc.js",
        "twilioserverless.config.js",
        "twilioserverless.config.cjs",
    ],
)
def test_js_config_is_refused(project: Path, home: Path, place: str) -> None:
    write(project / place, "module.exports = {port: 1};\n")

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    message = str(caught.value)
    assert str((project / place).resolve()) in message
    assert "JavaScript" in message
    assert ".twilioserverlessrc (JSON5)" in message
    assert ".yml" in message
    assert "[tool.callbox]" in message


def test_earlier_place_beats_js_config(project: Path, home: Path) -> None:
    path = write(project / ".twilioserverlessrc.yml", "port: 5\n")
    write(project / ".twilioserverlessrc.js", "module.exports = {};\n")
    write(project / "twilioserverless.config.js", "module.exports = {};\n")

    assert find_config(project, home=home).path == path.resolve()


def test_js_config_beats_later_places(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.cjs", "module.exports = {};\n")
    write(project / ".config/twilioserverlessrc.yml", "port: 5\n")

    with pytest.raises(RcError, match="JavaScript"):
        find_config(project, home=home)


# --- Explicit --config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("custom.json5", "{\n  // comment\n  serviceSid: 'ZS1',\n  port: 8080,\n}\n"),
        ("custom.json", '{"serviceSid": "ZS1", "port": 8080}'),
        ("custom", "{serviceSid: 'ZS1', port: 8080}"),
        (".twilioserverlessrc", "{serviceSid: 'ZS1', port: 8080,}"),
        ("custom.yml", "serviceSid: ZS1\nport: 8080\n"),
        ("custom.YAML", "# comment\nserviceSid: ZS1\nport: 8080\n"),
        ("custom.toml", '[tool.callbox]\nserviceSid = "ZS1"\nport = 8080\n'),
    ],
)
def test_explicit_file_in_each_format(
    tmp_path: Path, project: Path, home: Path, name: str, text: str
) -> None:
    write(project / ".twilioserverlessrc", "{port: 1}")  # ignored: --config wins
    path = write(tmp_path / "configs" / name, text)

    rc = find_config(project, path, home=home)

    assert rc == RcFile(path.resolve(), {"service_sid": "ZS1", "port": 8080})


def test_explicit_relative_path_is_resolved_against_the_process_cwd(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "conf" / "rc.yml", "port: 9\n")
    monkeypatch.chdir(tmp_path)

    rc = find_config(project, Path("conf/rc.yml"))

    assert rc.path == (tmp_path / "conf" / "rc.yml").resolve()
    assert rc.path is not None and rc.path.is_absolute()


def test_explicit_missing_file(tmp_path: Path, project: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(RcError, match=f"Config file {missing.resolve()} does not exist"):
        find_config(project, missing)


def test_explicit_folder(tmp_path: Path, project: Path) -> None:
    with pytest.raises(RcError, match="is a folder; give --config the path of a file"):
        find_config(project, tmp_path)


def test_explicit_js_file(tmp_path: Path, project: Path) -> None:
    path = write(tmp_path / "config.js", "module.exports = {}")
    with pytest.raises(RcError, match="JavaScript, which callbox cannot run"):
        find_config(project, path)


def test_explicit_unknown_extension(tmp_path: Path, project: Path) -> None:
    path = write(tmp_path / "config.ini", "[x]\n")
    with pytest.raises(RcError, match=r"unknown extension '\.ini'; use \.json5"):
        find_config(project, path)


def test_explicit_toml_without_callbox_table(tmp_path: Path, project: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(RcError, match=r"has no \[tool\.callbox\] table"):
        find_config(project, path)


# --- Formats and invalid files -------------------------------------------------------------


def test_json5_comments_trailing_commas_and_unquoted_keys(project: Path, home: Path) -> None:
    write(
        project / ".twilioserverlessrc",
        """// header
        {
          /* block */ functionsFolder: 'src',   // line comment
          "commands": {deploy: {force: true,},},
          environments: {"*": {env: '.env.prod'}},
          projects: {},
        }
        """,
    )

    assert find_config(project, home=home).data == {
        "functions_folder": "src",
        "commands": {"deploy": {"force": True}},
        "environments": {"*": {"env": ".env.prod"}},
        "projects": {},
    }


def test_byte_order_mark_is_accepted(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.json", '\ufeff{"port": 1}'.encode())
    assert find_config(project, home=home).data == {"port": 1}


def test_yaml_sections(project: Path, home: Path) -> None:
    write(
        project / ".twilioserverlessrc.yaml",
        f"""
        logLevel: debug
        commands:
          deploy:
            override-existing-project: true
        environments:
          "*":
            env: .env.prod
        projects:
          "{ACCOUNT}:ie1":
            serviceSid: {SERVICE}
        """.replace("\n        ", "\n"),
    )

    assert find_config(project, home=home).data == {
        "log_level": "debug",
        "commands": {"deploy": {"override_existing_project": True}},
        "environments": {"*": {"env": ".env.prod"}},
        "projects": {f"{ACCOUNT}:ie1": {"service_sid": SERVICE}},
    }


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_yaml_is_empty_config(project: Path, home: Path, text: str) -> None:
    write(project / ".twilioserverlessrc.yml", text)
    assert find_config(project, home=home).data == {}


def test_empty_json5_file_is_empty_config(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc", "  \n")
    assert find_config(project, home=home).data == {}


def test_yaml_empty_sections_count_as_empty(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.yml", "commands:\n  deploy:\nenvironments:\n")
    assert find_config(project, home=home).data == {"commands": {"deploy": {}}}


def test_invalid_json5_names_file_line_and_column(project: Path, home: Path) -> None:
    path = write(project / ".twilioserverlessrc", '{\n  "port": 1,\n  "force": }\n')

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    message = str(caught.value)
    assert message.startswith(f"Config file {path.resolve()} is not valid JSON5: ")
    assert "line 3, column" in message
    assert "\n" not in message


def test_invalid_yaml_names_file_line_and_column(project: Path, home: Path) -> None:
    path = write(project / ".twilioserverlessrc.yml", "port: 1\ncommands: [deploy\n")

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    message = str(caught.value)
    assert message.startswith(f"Config file {path.resolve()} is not valid YAML: ")
    assert "line 3, column 1" in message
    assert "\n" not in message


def test_unquoted_star_in_yaml_is_a_readable_error(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.yml", "environments:\n  *:\n    env: .env.prod\n")
    with pytest.raises(
        RcError, match=r'at line 2, column 4 \(a bare \* starts a YAML alias: write "\*"\)'
    ):
        find_config(project, home=home)


def test_invalid_toml_names_file_line_and_column(project: Path, home: Path) -> None:
    path = write(project / "pyproject.toml", "[tool.callbox]\nport = \n")

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    message = str(caught.value)
    assert message.startswith(f"Config file {path.resolve()} is not valid TOML: ")
    assert "line 2, column" in message


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        (".twilioserverlessrc", "[1, 2]", "found a list"),
        (".twilioserverlessrc", '"just text"', "found the string 'just text'"),
        (".twilioserverlessrc.yml", "- port\n", "found a list"),
        (".twilioserverlessrc.yml", "42\n", "found the number 42"),
        (".twilioserverlessrc.yml", "true\n", "found the boolean true"),
    ],
)
def test_top_level_must_be_a_mapping(
    project: Path, home: Path, name: str, text: str, found: str
) -> None:
    path = write(project / name, text)

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    assert str(caught.value) == (
        f"Config file {path.resolve()} must hold a mapping of settings at the top level; {found}."
    )


def test_tool_callbox_must_be_a_table(project: Path, home: Path) -> None:
    write(project / "pyproject.toml", "[tool]\ncallbox = 3\n")
    with pytest.raises(RcError, match="mapping of settings at the top level; found the number 3"):
        find_config(project, home=home)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{commands: 3}", "'commands' must be a mapping of names to flags; found the number 3"),
        ("{environments: ['dev']}", "'environments' must be a mapping of names to flags; found a"),
        ("{projects: 'AC1'}", "'projects' must be a mapping of names to flags; found the string"),
        ("{commands: {deploy: true}}", "'commands.deploy' must be a mapping of flags; found the b"),
        ("{projects: {AC1: [1]}}", "'projects.AC1' must be a mapping of flags; found a list"),
    ],
)
def test_sections_must_be_mappings_of_mappings(
    project: Path, home: Path, text: str, expected: str
) -> None:
    path = write(project / ".twilioserverlessrc", text)

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    assert str(caught.value).startswith(f"Config file {path.resolve()}: ")
    assert expected in str(caught.value)


def test_yaml_non_string_keys_are_refused(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc.yml", "environments:\n  1:\n    env: .env.one\n")
    with pytest.raises(RcError, match="the key 1 in 'environments' must be a string; quote it"):
        find_config(project, home=home)
    write(project / ".twilioserverlessrc.yml", "3: x\n")
    with pytest.raises(RcError, match="the key 3 in the top level must be a flag name"):
        find_config(project, home=home)


def test_binary_file_is_a_readable_error(project: Path, home: Path) -> None:
    path = write(project / ".twilioserverlessrc", b"\x89PNG\r\n\x1a\n\x00\xff\xfe")

    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    assert str(caught.value) == (
        f"Config file {path.resolve()} is not UTF-8 text (byte 0); save it as UTF-8."
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_readable_error(project: Path, home: Path) -> None:
    path = write(project / ".twilioserverlessrc.yml", "port: 1\n")
    path.chmod(0)
    try:
        with pytest.raises(RcError, match="cannot be read: Permission denied"):
            find_config(project, home=home)
    finally:
        path.chmod(0o644)


def test_read_failure_is_a_readable_error(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(project / ".twilioserverlessrc.yml", "port: 1\n")

    def refuse(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(RcError) as caught:
        find_config(project, home=home)

    assert str(caught.value) == f"Config file {path.resolve()} cannot be read: Permission denied."


# A config file holds flags; parsing is slow (pure-Python JSON5: 5 MB took 72 s), so a file
# over MAX_BYTES is refused from its size alone, before it is read or parsed.
LIMIT = rcfile.MAX_BYTES


def _never_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a file over the limit was parsed")

    for target in ("json5.loads", "yaml.safe_load", "tomllib.loads"):
        monkeypatch.setattr(target, refuse)


def _too_big(path: Path, size: int) -> str:
    return (
        f"Config file {path.resolve()} is {size:,} bytes, over the limit of 256 KB: config "
        "files are small; keep only flags in it and move data to assets/ or .env."
    )


def test_the_limit_is_256_kb() -> None:
    assert LIMIT == 256 * 1024


@pytest.mark.parametrize(
    ("name", "size"),
    [
        (".twilioserverlessrc", LIMIT + 1),
        (".twilioserverlessrc", 5 * 1024 * 1024),
        (".twilioserverlessrc.json", LIMIT + 1),
        (".twilioserverlessrc.yml", LIMIT + 1),
        (".config/twilioserverlessrc", LIMIT + 1),
        ("pyproject.toml", LIMIT + 1),
    ],
)
def test_a_config_file_over_the_limit_is_refused_unparsed(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, name: str, size: int
) -> None:
    path = write(project / name, b"#" * size)
    _never_parse(monkeypatch)
    with pytest.raises(RcError) as caught:
        find_config(project, home=home)
    assert str(caught.value) == _too_big(path, size)


def test_an_explicit_config_over_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "big.json5", b" " * (LIMIT + 1))
    _never_parse(monkeypatch)
    with pytest.raises(RcError) as caught:
        find_config(tmp_path, path)
    assert str(caught.value) == _too_big(path, LIMIT + 1)


def test_a_config_file_of_exactly_the_limit_is_read(project: Path, home: Path) -> None:
    # TOML parses fast enough to try the real limit; a comment pads the file.
    head = b"[tool.callbox]\nport = 4000\n#"
    write(project / "pyproject.toml", head + b"x" * (LIMIT - len(head) - 1) + b"\n")
    assert (project / "pyproject.toml").stat().st_size == LIMIT
    assert find_config(project, home=home).data == {"port": 4000}


@pytest.mark.parametrize(("size", "refused"), [(63, False), (64, False), (65, True)])
def test_the_limit_is_inclusive_for_json5(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, size: int, refused: bool
) -> None:
    monkeypatch.setattr(rcfile, "MAX_BYTES", 64)
    text = '{"port": 4000}'
    path = write(project / ".twilioserverlessrc", text + " " * (size - len(text)))
    if refused:
        with pytest.raises(RcError, match=r"is 65 bytes, over the limit of 0 KB"):
            find_config(project, home=home)
    else:
        assert find_config(project, home=home) == RcFile(path.resolve(), {"port": 4000})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_small_config_through_a_pipe_is_read(tmp_path: Path) -> None:
    # --config /dev/stdin: a pipe has no size to check beforehand, so at most the limit is read.
    fifo = tmp_path / "rc.json"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text('{"port": 4000}'), daemon=True)
    writer.start()
    try:
        assert find_config(tmp_path, fifo).data == {"port": 4000}
    finally:
        writer.join(timeout=5)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_refused_after_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_parse(monkeypatch)
    with pytest.raises(RcError) as caught:
        find_config(tmp_path, Path("/dev/zero"))
    assert str(caught.value).startswith(
        f"Config file /dev/zero is more than {LIMIT:,} bytes, over the limit of 256 KB: "
    )


def test_two_spellings_of_one_flag_are_refused(project: Path, home: Path) -> None:
    write(
        project / ".twilioserverlessrc", "{commands: {deploy: {serviceSid: 'a', service_sid: 'b'}}}"
    )
    with pytest.raises(
        RcError,
        match="'serviceSid' and 'service_sid' in 'commands.deploy' both set service_sid; keep one",
    ):
        find_config(project, home=home)


# --- Key normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("functionsFolder", "functions_folder"),
        ("functions-folder", "functions_folder"),
        ("functions_folder", "functions_folder"),
        ("overrideExistingProject", "override_existing_project"),
        ("loadSystemEnv", "load_system_env"),
        ("show-values", "show_values"),
        ("serviceSID", "service_sid"),
        ("port", "port"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_section_names_are_kept_as_written() -> None:
    data = normalise(
        {
            "logLevel": "warn",
            "commands": {
                "deploy": {"serviceSid": "ZS1"},
                "list-templates": {"output-format": "json"},
            },
            "environments": {"*": {"loadSystemEnv": True}, "myStage": {"env": ".env"}},
            "projects": {f"{ACCOUNT}:ie1": {"serviceSid": "ZS2"}, ACCOUNT: {}},
        }
    )

    assert data == {
        "log_level": "warn",
        "commands": {"deploy": {"service_sid": "ZS1"}, "list-templates": {"output_format": "json"}},
        "environments": {"*": {"load_system_env": True}, "myStage": {"env": ".env"}},
        "projects": {f"{ACCOUNT}:ie1": {"service_sid": "ZS2"}, ACCOUNT: {}},
    }


def test_flag_values_are_not_normalised() -> None:
    assert normalise({"properties": {"friendlyName": 1}}) == {"properties": {"friendlyName": 1}}


def test_normalise_of_a_plain_dict_names_the_config() -> None:
    with pytest.raises(RcError, match="^The config must hold a mapping"):
        normalise(["x"])


# --- specialize (cases 59-64, 74) ----------------------------------------------------------


def test_case_59_flat_config_is_returned_as_is() -> None:
    config = {"serviceSid": SERVICE, "env": ".env.prod"}
    assert specialize(config, "deploy") == {"service_sid": SERVICE, "env": ".env.prod"}


def test_case_60_credentials_and_command_only_keys_are_removed() -> None:
    config = {
        "serviceSid": SERVICE,
        "username": ACCOUNT,
        "password": "secret",
        "config": "other.json",
        "key": "K",
        "value": "V",
        "showValues": True,
        "commands": {"deploy": {"password": "again"}},
        "projects": {ACCOUNT: {"username": "x"}},
    }

    assert specialize(config, "deploy", account_sid=ACCOUNT) == {"service_sid": SERVICE}


def test_case_61_only_the_named_command_is_merged() -> None:
    config = {
        "functionsFolder": "top",
        "commands": {
            "deploy": {"functionsFolder": "deploy-folder"},
            "start": {"functionsFolder": "start-folder", "port": 9000},
        },
    }

    assert specialize(config, "deploy") == {"functions_folder": "deploy-folder"}
    assert specialize(config, "start") == {"functions_folder": "start-folder", "port": 9000}
    assert specialize(config, "logs") == {"functions_folder": "top"}


def test_case_62_environment_overrides_top_level_and_command() -> None:
    config = {
        "env": ".env",
        "commands": {"deploy": {"env": ".env.deploy", "force": True}},
        "environments": {"stage": {"env": ".env.stage"}},
    }

    assert specialize(config, "deploy", environment="stage") == {"env": ".env.stage", "force": True}
    assert specialize(config, "deploy", environment="dev") == {"env": ".env.deploy", "force": True}


def test_case_62_start_has_no_environment() -> None:
    config = {"env": ".env", "environments": {"dev": {"env": ".env.dev"}, "*": {"env": "p"}}}
    assert specialize(config, "start") == {"env": ".env"}


def test_case_63_project_overrides_environment_and_top_level() -> None:
    config = {
        "serviceSid": "ZS-top",
        "environments": {"stage": {"serviceSid": "ZS-stage"}},
        "projects": {ACCOUNT: {"serviceSid": SERVICE}},
    }

    assert specialize(config, "deploy", environment="stage", account_sid=ACCOUNT) == {
        "service_sid": SERVICE
    }
    other = "AC" + "9" * 32
    assert specialize(config, "deploy", environment="stage", account_sid=other) == {
        "service_sid": "ZS-stage"
    }


@pytest.mark.parametrize(
    ("region", "expected"),
    [("ie1", "ZS-ie1"), ("au1", "ZS-au1"), ("us1", "ZS-plain"), (None, "ZS-plain"), ("jp1", "top")],
)
def test_case_64_region_picks_the_project_entry(region: str | None, expected: str) -> None:
    config = {
        "serviceSid": "top",
        "projects": {
            f"{ACCOUNT}:au1": {"serviceSid": "ZS-au1"},
            f"{ACCOUNT}:ie1": {"serviceSid": "ZS-ie1"},
            ACCOUNT: {"serviceSid": "ZS-plain"},
        },
    }

    result = specialize(config, "deploy", account_sid=ACCOUNT, region=region)

    assert result == {"service_sid": expected}


def test_case_64_explicit_us1_key_beats_plain_key() -> None:
    config = {"projects": {f"{ACCOUNT}:us1": {"port": 1}, ACCOUNT: {"port": 2}}}
    assert specialize(config, "start", account_sid=ACCOUNT, region="us1") == {"port": 1}


def test_projects_ignored_without_account() -> None:
    config = {"projects": {ACCOUNT: {"port": 2}}}
    assert specialize(config, "start") == {}


@pytest.mark.parametrize(
    ("environment", "production", "expected"),
    [(None, False, "dev"), ("stage", False, "stage"), (None, True, ""), ("stage", True, "")],
)
def test_case_74_environment_suffix(
    environment: str | None, production: bool, expected: str
) -> None:
    assert environment_suffix(environment, production) == expected


def test_case_74_production_reads_the_star_environment() -> None:
    config = {"environments": {"*": {"env": ".env.prod"}, "stage": {"env": ".env.stage"}}}

    production = environment_suffix("stage", production=True)

    assert specialize(config, "logs", environment=production) == {"env": ".env.prod"}
    assert specialize(config, "logs", environment=environment_suffix("stage")) == {
        "env": ".env.stage"
    }
    assert specialize(config, "logs", environment=environment_suffix(None)) == {}


def test_specialize_accepts_mixed_spellings() -> None:
    config = {
        "functions-folder": "a",
        "commands": {"deploy": {"functionsFolder": "b"}},
        "environments": {"stage": {"functions_folder": "c"}},
    }
    assert specialize(config, "deploy", environment="stage") == {"functions_folder": "c"}


def test_specialize_does_not_change_its_input() -> None:
    config = {"username": "u", "commands": {"deploy": {"port": 1}}}
    specialize(config, "deploy")
    assert config == {"username": "u", "commands": {"deploy": {"port": 1}}}


def test_specialize_rcfile_resolves_cwd_against_the_project_folder(
    project: Path, home: Path
) -> None:
    write(project / ".twilioserverlessrc", "{cwd: 'sub', commands: {deploy: {cwd: '/abs'}}}")
    rc = find_config(project, home=home)

    assert specialize(rc, "start") == {"cwd": str(project.resolve() / "sub")}
    assert specialize(rc, "deploy") == {"cwd": "/abs"}


def test_specialize_cwd_in_dot_config_is_relative_to_the_project(project: Path, home: Path) -> None:
    write(project / ".config" / "twilioserverlessrc.yml", "cwd: .\n")
    rc = find_config(project, home=home)

    assert rc.folder == project.resolve()
    assert specialize(rc, "start") == {"cwd": str(project.resolve() / ".")}


def test_specialize_refuses_a_non_string_cwd(project: Path, home: Path) -> None:
    write(project / ".twilioserverlessrc", "{cwd: 3}")
    rc = find_config(project, home=home)
    with pytest.raises(RcError, match="'cwd' must be a path string; found the number 3"):
        specialize(rc, "start")


def test_specialize_dict_leaves_cwd_alone() -> None:
    assert specialize({"cwd": "rel"}, "start") == {"cwd": "rel"}


def test_specialize_validates_a_plain_dict() -> None:
    with pytest.raises(RcError, match="'commands' must be a mapping"):
        specialize({"commands": 3}, "deploy")


def test_specialize_empty_rcfile() -> None:
    assert specialize(RcFile(None, {}), "deploy", environment="dev", account_sid=ACCOUNT) == {}


# --- merge (case 65) -----------------------------------------------------------------------


def test_case_65_no_config_leaves_flags_unchanged() -> None:
    flags = {"template": "hi", "list": True, "cwd": None}
    assert merge(flags, {"template"}, {}) == flags


def test_case_65_config_fills_a_missing_flag() -> None:
    assert merge({"template": None}, set(), {"template": "hello"}) == {"template": "hello"}


def test_case_65_given_flag_beats_config() -> None:
    assert merge({"template": "bye"}, {"template"}, {"template": "hello"}) == {"template": "bye"}


def test_case_65_flag_at_its_default_is_overridden_by_config() -> None:
    assert merge({"list": True}, set(), {"list": False}) == {"list": False}


def test_given_flag_equal_to_its_default_still_wins() -> None:
    # Twilio compares with the default; callbox knows what was typed, so `--list` beats config.
    assert merge({"list": True}, {"list"}, {"list": False}) == {"list": True}


def test_case_65_config_cwd_replaces_the_default_cwd() -> None:
    flags = {"cwd": None, "port": 3000}

    assert merge(flags, set(), {"cwd": "/some/path"}) == {"cwd": "/some/path", "port": 3000}
    assert merge(flags, {"cwd"}, {"cwd": "/some/path"}) == {"cwd": None, "port": 3000}


def test_config_keys_that_are_not_flags_are_kept() -> None:
    result = merge({"port": 3000}, set(), {"service_sid": SERVICE, "custom": [1]})
    assert result == {"port": 3000, "service_sid": SERVICE, "custom": [1]}


def test_config_null_counts_as_unset() -> None:
    assert merge({"environment": "dev"}, set(), {"environment": None}) == {"environment": "dev"}


def test_merge_does_not_change_its_inputs() -> None:
    flags, config = {"port": 1}, {"port": 2}
    merge(flags, set(), config)
    assert (flags, config) == ({"port": 1}, {"port": 2})


def test_given_names_from_click(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []

    @click.command()
    @click.option("--port", type=int, default=3000)
    @click.option("--env", envvar="CALLBOX_TEST_ENV", default=None)
    @click.option("--force", is_flag=True)
    @click.option("--production", is_flag=True)
    def command(port: int, env: str | None, force: bool, production: bool) -> None:
        ctx = click.get_current_context()
        given = given_names(ctx)
        seen.append(
            {"given": given, "merged": merge(ctx.params, given, {"port": 1, "force": True})}
        )

    monkeypatch.setenv("CALLBOX_TEST_ENV", ".env.x")
    result = CliRunner().invoke(command, ["--production", "--port", "3000"])

    assert result.exit_code == 0, result.output
    assert seen == [
        {
            "given": {"production", "port", "env"},
            "merged": {"port": 3000, "env": ".env.x", "force": True, "production": True},
        }
    ]
