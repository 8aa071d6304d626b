"""Config: documented defaults, CALLBOX_* variables with types, explicit overrides."""

from __future__ import annotations

import os
from dataclasses import FrozenInstanceError, fields

import pytest

from callbox.config import Config, child_environment


def test_defaults_are_the_documented_limits() -> None:
    config = Config()
    assert config.execution_timeout == 10.0
    assert config.max_request_bytes == 1024 * 1024
    assert config.max_response_bytes == 4 * 1024 * 1024
    assert config.max_header_bytes == 15 * 1024
    assert config.max_header_count == 90
    assert config.concurrency_limit == 30


def test_other_defaults() -> None:
    config = Config()
    assert config.max_workers == (os.cpu_count() or 2)
    assert config.max_workers >= 1
    assert (config.debug_errors, config.skip_signature_check, config.no_index) == (
        False,
        False,
        False,
    )
    assert (config.index_url, config.find_links) == ("", "")
    assert config.memory_limit_mb > 0 and config.cancel_grace > 0


def test_load_without_variables_is_the_defaults() -> None:
    assert Config.load({}) == Config()


def test_environment_variables_are_typed() -> None:
    config = Config.load(
        {
            "CALLBOX_EXECUTION_TIMEOUT": "2.5",
            "CALLBOX_MAX_REQUEST_BYTES": "2048",
            "CALLBOX_CONCURRENCY_LIMIT": "7",
            "CALLBOX_DEBUG_ERRORS": "true",
            "CALLBOX_SKIP_SIGNATURE_CHECK": "1",
            "CALLBOX_NO_INDEX": "yes",
            "CALLBOX_FIND_LINKS": "/wheels",
            "CALLBOX_INDEX_URL": "https://pypi.example/simple",
            "UNRELATED": "ignored",
            "callbox_max_workers": "99",  # the prefix is upper case
        }
    )
    assert config.execution_timeout == 2.5 and isinstance(config.execution_timeout, float)
    assert config.max_request_bytes == 2048 and isinstance(config.max_request_bytes, int)
    assert config.concurrency_limit == 7
    assert config.debug_errors is True
    assert config.skip_signature_check is True
    assert config.no_index is True
    assert config.find_links == "/wheels"
    assert config.index_url == "https://pypi.example/simple"
    assert config.max_workers == Config().max_workers


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " true "])
def test_true_spellings(raw: str) -> None:
    assert Config.load({"CALLBOX_DEBUG_ERRORS": raw}).debug_errors is True


@pytest.mark.parametrize("raw", ["0", "false", "no", "off", ""])
def test_false_spellings(raw: str) -> None:
    assert Config.load({"CALLBOX_DEBUG_ERRORS": raw}).debug_errors is False


def test_a_bad_bool_is_a_value_error_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="CALLBOX_DEBUG_ERRORS"):
        Config.load({"CALLBOX_DEBUG_ERRORS": "ture"})


def test_an_int_from_the_environment_can_be_a_float_field() -> None:
    assert Config.load({"CALLBOX_EXECUTION_TIMEOUT": "3"}).execution_timeout == 3.0


@pytest.mark.parametrize(
    ("name", "raw", "kind"),
    [
        ("CALLBOX_MAX_WORKERS", "many", "int"),
        ("CALLBOX_MAX_REQUEST_BYTES", "1.5", "int"),
        ("CALLBOX_MAX_HEADER_COUNT", "", "int"),
        ("CALLBOX_EXECUTION_TIMEOUT", "ten", "float"),
    ],
)
def test_a_bad_number_is_a_value_error_naming_the_variable(name: str, raw: str, kind: str) -> None:
    with pytest.raises(ValueError) as caught:
        Config.load({name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name} must be a")
    assert kind in message
    assert repr(raw) in message


def test_overrides_win_over_the_environment() -> None:
    config = Config.load(
        {"CALLBOX_EXECUTION_TIMEOUT": "2", "CALLBOX_MAX_WORKERS": "3"},
        execution_timeout=0.5,
        debug_errors=True,
    )
    assert config.execution_timeout == 0.5
    assert config.max_workers == 3
    assert config.debug_errors is True


def test_none_overrides_are_ignored() -> None:
    config = Config.load(
        {"CALLBOX_EXECUTION_TIMEOUT": "2"}, execution_timeout=None, max_workers=None
    )
    assert config.execution_timeout == 2.0
    assert config.max_workers == Config().max_workers


def test_false_and_zero_overrides_are_kept() -> None:
    config = Config.load({"CALLBOX_DEBUG_ERRORS": "1"}, debug_errors=False, concurrency_limit=0)
    assert config.debug_errors is False
    assert config.concurrency_limit == 0


def test_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Config.load({}, no_such_setting=1)


def test_load_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBOX_CONCURRENCY_LIMIT", "12")
    assert Config.load().concurrency_limit == 12


def test_every_field_has_an_environment_variable() -> None:
    defaults = Config()
    environ: dict[str, str] = {}
    expected: dict[str, object] = {}
    for item in fields(Config):
        name = f"CALLBOX_{item.name.upper()}"
        default = getattr(defaults, item.name)
        if isinstance(default, bool):
            environ[name], expected[item.name] = ("0" if default else "1"), not default
        elif isinstance(default, int):
            environ[name], expected[item.name] = "12345", 12345
        elif isinstance(default, float):
            environ[name], expected[item.name] = "0.25", 0.25
        else:
            environ[name], expected[item.name] = "set-from-env", "set-from-env"
    config = Config.load(environ)
    assert {name: getattr(config, name) for name in expected} == expected


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(FrozenInstanceError):
        config.execution_timeout = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "args"),
    [
        ({}, []),
        ({"index_url": "https://idx/simple"}, ["--index-url", "https://idx/simple"]),
        ({"find_links": "/wheels", "no_index": True}, ["--find-links", "/wheels", "--no-index"]),
        (
            {"index_url": "https://idx", "find_links": "/w", "no_index": True},
            ["--index-url", "https://idx", "--find-links", "/w", "--no-index"],
        ),
    ],
)
def test_index_args(settings: dict[str, object], args: list[str]) -> None:
    assert Config(**settings).index_args() == args  # type: ignore[arg-type]


def test_child_environment_drops_the_servers_secrets() -> None:
    environ = {
        "CALLBOX_AUTH_TOKEN": "b" * 32,
        "CALLBOX_SECRET_KEY": "k" * 44,
        "callbox_database_url": "sqlite:///x",  # any case: the prefix is what makes it private
        "TWILIO_AUTH_TOKEN": "t" * 32,
        "Twilio_Api_Secret": "s",
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "MY_CALLBOX_NOTE": "not a prefix",
        "TWILIOX": "not a prefix either",
    }
    assert child_environment(environ) == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "MY_CALLBOX_NOTE": "not a prefix",
        "TWILIOX": "not a prefix either",
    }
    assert environ["CALLBOX_AUTH_TOKEN"] == "b" * 32  # a copy: the server keeps its own


def test_child_environment_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBOX_AUTH_TOKEN", "b" * 32)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("UNIT_KEPT", "kept")
    made = child_environment()
    assert "CALLBOX_AUTH_TOKEN" not in made and "TWILIO_ACCOUNT_SID" not in made
    assert made["UNIT_KEPT"] == "kept"
    assert os.environ["CALLBOX_AUTH_TOKEN"] == "b" * 32  # the server's own is left alone
