"""What an API command starts from: flags merged with the config file, the .env, credentials.

A tiny command with the real options calls ``open_session(ctx, "deploy")`` and keeps the
Session; no server is needed (the client is created but never used).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from callbox.toolkit.cli import ToolkitGroup
from callbox.toolkit.credentials import DEFAULT_URL, Credentials, Profile, ProfileStore
from callbox.toolkit.deployinfo import record
from callbox.toolkit.options import (
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.printer import Printer
from callbox.toolkit.session import Session, open_session, read_local_env

AC = "AC" + "1" * 32
AC_DOTENV = "AC" + "2" * 32
AC_PROFILE = "AC" + "3" * 32
AC_PROJECT = "AC" + "4" * 32
SK = "SK" + "5" * 32
SERVICE = "ZS" + "6" * 32
BUILD = "ZB" + "7" * 32
FLAGS = ("-u", AC, "--password", "flag-token")


def make_cli(sessions: list[Session]) -> click.Group:
    @click.command()
    @api_options
    @service_sid_option
    @environment_options
    @output_option
    @click.pass_context
    def deploy(ctx: click.Context, **_flags: Any) -> None:
        session = open_session(ctx, "deploy")
        session.close()
        sessions.append(session)

    return ToolkitGroup("callbox", commands=[deploy])


class Probe:
    """Runs the tiny command; ``__call__`` expects success, ``fails`` one error line."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.cli = make_cli(self.sessions)

    def __call__(self, *args: str) -> Session:
        result = CliRunner().invoke(self.cli, ["deploy", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return self.sessions[-1]

    def fails(self, *args: str) -> str:
        result = CliRunner().invoke(self.cli, ["deploy", *args], catch_exceptions=False)
        assert result.exit_code == 1, result.output
        assert not self.sessions
        lines = result.output.splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith("Error: ")
        return lines[0].removeprefix("Error: ")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean user: own HOME (the config search stops there), config folder, no TWILIO_*."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("CALLBOX_CONFIG_DIR", str(tmp_path / "config"))
    for name in list(os.environ):
        if name.startswith("TWILIO_") or name in ("CALLBOX_URL", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name)
    return folder


@pytest.fixture
def project(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = home / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def probe(project: Path) -> Probe:
    return Probe()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def profiles() -> ProfileStore:
    return ProfileStore.default()


# --- Defaults --------------------------------------------------------------------------------


def test_defaults_without_config_or_env(probe: Probe, project: Path) -> None:
    session = probe(*FLAGS)

    assert session.command == "deploy"
    assert session.root == project.resolve()
    assert session.env_file == project.resolve() / ".env"
    assert session.env_values == {}
    assert session.environment == "dev"
    assert session.region is None
    assert session.flags.service_sid is None
    assert session.flags.output_format == ""
    assert "_environment_scope" not in vars(session.flags)
    assert session.credentials == Credentials(
        DEFAULT_URL, AC, "flag-token", "--username/--password", AC
    )
    assert session.client.base_url == DEFAULT_URL
    assert isinstance(session.printer, Printer) and not session.printer.json


def test_production_flag_means_the_empty_suffix(probe: Probe) -> None:
    assert probe(*FLAGS, "--production").environment == ""
    assert probe(*FLAGS, "--production", "--environment", "stage").environment == ""
    assert probe(*FLAGS, "--to", "stage").environment == "stage"


def test_json_output_makes_a_quiet_printer(probe: Probe) -> None:
    session = probe(*FLAGS, "-o", "json", "-l", "debug")

    assert session.printer.json and not session.printer.chatty


# --- .env rules (spec 7.7, case 67) ----------------------------------------------------------


def test_load_system_env_without_env_is_refused(probe: Probe) -> None:
    message = probe.fails(*FLAGS, "--load-system-env")

    assert message.startswith(
        "If you are using --load-system-env you'll also have to supply a --env flag."
    )


def test_load_system_env_from_the_config_without_env_is_refused(
    probe: Probe, project: Path
) -> None:
    write(project / ".twilioserverlessrc", "{loadSystemEnv: true}")

    assert "--load-system-env" in probe.fails(*FLAGS)


def test_missing_explicit_env_file(probe: Probe, project: Path) -> None:
    message = probe.fails(*FLAGS, "--env", ".env.missing")

    assert message == f'Failed to find .env file at "{project.resolve() / ".env.missing"}"'


def test_env_naming_a_folder_counts_as_missing(probe: Probe, project: Path) -> None:
    (project / "envdir").mkdir()

    assert probe.fails(*FLAGS, "--env", "envdir").startswith("Failed to find .env file at")


def test_missing_default_env_file_is_fine(probe: Probe, project: Path) -> None:
    session = probe(*FLAGS)

    assert session.env_file == project.resolve() / ".env"
    assert session.env_values == {}


def test_default_env_file_is_read(probe: Probe, project: Path) -> None:
    write(project / ".env", "HELLO=world\nEMPTY=\n# comment\nQUOTED='a b'\n")

    session = probe(*FLAGS)

    assert session.env_values == {"HELLO": "world", "EMPTY": "", "QUOTED": "a b"}


def test_env_flag_is_relative_to_the_project_not_the_shell(
    probe: Probe, home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".env.prod", "MODE=prod\nBLANK=\n")
    write(home / ".env.prod", "MODE=wrong-folder\n")
    monkeypatch.chdir(home)

    session = probe(*FLAGS, "--cwd", str(project), "--env", ".env.prod")

    assert session.env_file == project.resolve() / ".env.prod"
    assert session.env_values == {"MODE": "prod", "BLANK": ""}  # empty values included


def test_env_flag_may_be_absolute(probe: Probe, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "vars", "WHERE=outside\n")

    session = probe(*FLAGS, "--env", str(outside))

    assert session.env_file == outside.resolve()
    assert session.env_values == {"WHERE": "outside"}


def test_load_system_env_fills_only_empty_values(
    probe: Probe, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".env.prod", "ACCOUNT_SID=\nAUTH_TOKEN=\nSECRET_API_KEY=\nKEPT=local\n")
    monkeypatch.setenv("ACCOUNT_SID", AC_DOTENV)
    monkeypatch.setenv("SECRET_API_KEY", "from-system")
    monkeypatch.setenv("KEPT", "from-system")
    monkeypatch.setenv("NOT_IN_FILE", "from-system")

    session = probe(*FLAGS, "--env", ".env.prod", "--load-system-env")

    assert session.env_values == {
        "ACCOUNT_SID": AC_DOTENV,
        "AUTH_TOKEN": "",  # not in the system env either
        "SECRET_API_KEY": "from-system",
        "KEPT": "local",
    }


def test_without_load_system_env_the_shell_does_not_leak_in(
    probe: Probe, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".env", "SECRET_API_KEY=\n")
    monkeypatch.setenv("SECRET_API_KEY", "from-system")

    assert probe(*FLAGS).env_values == {"SECRET_API_KEY": ""}


def test_read_local_env_directly(project: Path) -> None:
    write(project / ".env", "A=1\n")

    assert read_local_env(project, None, False) == (project.resolve() / ".env", {"A": "1"})
    with pytest.raises(click.ClickException, match="supply a --env flag"):
        read_local_env(project, None, True)
    with pytest.raises(click.ClickException, match='^Failed to find .env file at "/'):
        read_local_env(project, "nope", False)


# --- What a deploy uploads (case 66) ---------------------------------------------------------


def test_uploadable_env_drops_credentials_and_empty_values(probe: Probe, project: Path) -> None:
    write(
        project / ".env",
        f"ACCOUNT_SID={AC}\nAUTH_TOKEN=secret\nhello=world\nEMPTY=\n"
        "DOMAIN_NAME=example.com\nPATH=/custom/bin\nSPACE=' '\n",
    )

    session = probe(*FLAGS)

    assert session.uploadable_env() == {
        "hello": "world",
        "DOMAIN_NAME": "example.com",
        "PATH": "/custom/bin",
        "SPACE": " ",
    }
    assert "AUTH_TOKEN" in session.env_values  # kept for credentials, never uploaded


def test_uploadable_env_is_a_copy(probe: Probe, project: Path) -> None:
    write(project / ".env", "A=1\n")
    session = probe(*FLAGS)

    session.uploadable_env()["A"] = "changed"

    assert session.env_values == {"A": "1"}


# --- The config file ------------------------------------------------------------------------

RC = f"""
// JSON5: comments, unquoted keys, trailing commas
{{
  serviceSid: "ZS-top",
  outputFormat: "json",
  commands: {{
    deploy: {{ serviceSid: "ZS-deploy" }},
    promote: {{ serviceSid: "ZS-promote", environment: "never" }},
  }},
  environments: {{
    stage: {{ env: ".env.stage", serviceSid: "ZS-stage" }},
    "*": {{ serviceSid: "ZS-production" }},
  }},
  projects: {{
    "{AC_PROJECT}": {{ serviceSid: "ZS-project" }},
    "{AC_PROJECT}:ie1": {{ serviceSid: "ZS-project-ie1" }},
  }},
}}
"""


@pytest.fixture
def rc(project: Path) -> Path:
    write(project / ".env.stage", "STAGE=yes\n")
    return write(project / ".twilioserverlessrc", RC)


def test_config_values_apply_when_no_flag_is_given(probe: Probe, rc: Path) -> None:
    session = probe(*FLAGS)

    assert session.flags.service_sid == "ZS-deploy"  # the command beats the top level
    assert session.flags.output_format == "json"
    assert session.printer.json
    assert session.environment == "dev"  # promote's scope is not deploy's


def test_environment_scope(probe: Probe, rc: Path, project: Path) -> None:
    session = probe(*FLAGS, "--environment", "stage")

    assert session.flags.service_sid == "ZS-stage"
    assert session.env_file == project.resolve() / ".env.stage"
    assert session.env_values == {"STAGE": "yes"}


def test_production_scope_is_star(probe: Probe, rc: Path) -> None:
    session = probe(*FLAGS, "--production")

    assert session.flags.service_sid == "ZS-production"
    assert session.environment == ""


def test_production_from_the_config_also_picks_the_star_scope(probe: Probe, project: Path) -> None:
    write(
        project / ".twilioserverlessrc",
        '{production: true, environments: {"*": {serviceSid: "ZS-prod"}}}',
    )

    session = probe(*FLAGS)

    assert session.environment == ""
    assert session.flags.service_sid == "ZS-prod"


def test_projects_scope_applies_once_credentials_give_the_account(probe: Probe, rc: Path) -> None:
    session = probe("-u", AC_PROJECT, "--password", "t", "--environment", "stage")

    assert session.flags.service_sid == "ZS-project"  # beats the environment scope
    assert session.env_values == {"STAGE": "yes"}


def test_projects_scope_with_a_region(probe: Probe, rc: Path) -> None:
    session = probe("-u", AC_PROJECT, "--password", "t", "--region", "ie1")

    assert session.flags.service_sid == "ZS-project-ie1"
    assert session.region == "ie1"


def test_projects_scope_for_an_account_from_the_dotenv(
    probe: Probe, rc: Path, project: Path
) -> None:
    write(project / ".env", f"ACCOUNT_SID={AC_PROJECT}\nAUTH_TOKEN=dotenv-token\n")

    session = probe()

    assert session.credentials.source == f".env ({project.resolve() / '.env'})"
    assert session.flags.service_sid == "ZS-project"


def test_projects_scope_asks_the_server_whose_api_key_it_is(probe: Probe, rc: Path) -> None:
    # An API key does not name its account; with a projects scope in the config the server
    # is asked (here: nobody listens, so that is the one error line).
    message = probe.fails("-u", SK, "--password", "key-secret", "--url", "http://127.0.0.1:9")
    assert message.startswith("Cannot reach the callbox server at http://127.0.0.1:9")


def test_an_api_key_without_a_projects_scope_asks_nothing(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", '{ serviceSid: "ZS-top" }')
    session = probe("-u", SK, "--password", "key-secret", "--url", "http://127.0.0.1:9")
    assert session.credentials.account_sid is None
    assert session.flags.service_sid == "ZS-top"


def test_flags_win_over_every_config_scope(probe: Probe, rc: Path) -> None:
    session = probe(
        "-u", AC_PROJECT, "--password", "t", "--service-sid", SERVICE, "-o", "", "--production"
    )

    assert session.flags.service_sid == SERVICE
    assert session.flags.output_format == ""
    assert not session.printer.json


def test_a_flag_given_at_its_default_value_still_wins(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", '{environment: "stage"}')

    assert probe(*FLAGS).environment == "stage"
    assert probe(*FLAGS, "--environment", "dev").environment == "dev"


def test_credentials_in_the_config_file_are_ignored(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", f'{{username: "{AC}", password: "in-the-file"}}')

    assert probe.fails().startswith("Missing credentials:")


def test_config_url_and_profile_are_used(probe: Probe, project: Path) -> None:
    profiles().save(Profile("work", "http://work:1", AC_PROFILE, "p"), activate=False)
    profiles().save(Profile("home", "http://home:2", AC, "h"), activate=True)
    write(project / ".twilioserverlessrc", '{profile: "work", url: "http://from-config:9"}')

    session = probe()

    assert session.credentials.source == 'profile "work"'
    assert session.credentials.url == "http://from-config:9"
    assert probe("--url", "http://flag:1").credentials.url == "http://flag:1"


def test_explicit_config_file(probe: Probe, project: Path, tmp_path: Path) -> None:
    write(project / ".twilioserverlessrc", '{serviceSid: "ZS-found"}')
    other = write(tmp_path / "other.json5", '{serviceSid: "ZS-explicit"}')

    assert probe(*FLAGS, "-c", str(other)).flags.service_sid == "ZS-explicit"


def test_invalid_config_file_is_one_error_line_naming_it(probe: Probe, project: Path) -> None:
    rc = write(project / ".twilioserverlessrc", "{serviceSid: ")

    message = probe.fails(*FLAGS)

    assert message.startswith(f"Config file {rc} is not valid JSON5")


def test_missing_explicit_config_file(probe: Probe, project: Path) -> None:
    message = probe.fails(*FLAGS, "--config", "nope.json")

    assert message == (
        f"Config file {project.resolve() / 'nope.json'} does not exist; check the path given "
        "to --config."
    )


def test_config_file_is_found_from_a_subfolder(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", '{serviceSid: "ZS-up"}')
    sub = project / "functions"
    sub.mkdir()

    assert probe(*FLAGS, "--cwd", str(sub)).flags.service_sid == "ZS-up"


def test_projects_scope_env_chooses_the_env_file(probe: Probe, project: Path) -> None:
    write(project / ".env", "FROM=default\n")
    write(project / ".env.acct", "FROM=account\n")
    write(project / ".twilioserverlessrc", f'{{projects: {{"{AC}": {{env: ".env.acct"}}}}}}')

    session = probe(*FLAGS)

    assert session.flags.env == ".env.acct"
    assert session.env_file == project.resolve() / ".env.acct"
    assert session.env_values == {"FROM": "account"}


# --- --cwd and the config's cwd ------------------------------------------------------------


def test_cwd_flag_chooses_the_project(
    probe: Probe, home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".env", "FROM=project\n")
    write(project / ".twilioserverlessrc", '{serviceSid: "ZS-project-rc"}')
    monkeypatch.chdir(home)

    session = probe(*FLAGS, "--cwd", "project")

    assert session.root == project.resolve()
    assert session.env_values == {"FROM": "project"}
    assert session.flags.service_sid == "ZS-project-rc"


def test_config_cwd_is_relative_to_the_config_file(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", '{cwd: "app"}')
    write(project / "app" / ".env", "FROM=app\n")

    session = probe(*FLAGS)

    assert session.root == (project / "app").resolve()
    assert session.env_file == (project / "app" / ".env").resolve()
    assert session.env_values == {"FROM": "app"}


def test_cwd_flag_wins_over_the_config_cwd(probe: Probe, project: Path) -> None:
    write(project / ".twilioserverlessrc", '{cwd: "app"}')
    write(project / "other" / ".env", "FROM=other\n")

    session = probe(*FLAGS, "--cwd", str(project / "other"))

    assert session.root == (project / "other").resolve()
    assert session.env_values == {"FROM": "other"}


# --- Credentials: .env, flags, environment, profiles ----------------------------------------


def test_open_session_resolves_credentials_from_the_flags_and_the_chosen_env_file(
    probe: Probe, project: Path
) -> None:
    # The order of the sources is credentials.resolve()'s (tests/toolkit/test_credentials.py);
    # here: the session hands it the flags, the --env file it read and the --url.
    write(project / ".env", f"ACCOUNT_SID={AC}\nAUTH_TOKEN=default-file\n")
    write(project / ".env.prod", f"ACCOUNT_SID={AC_DOTENV}\nAUTH_TOKEN=prod-file\n")

    from_file = probe("--env", ".env.prod", "--url", "http://flag:4").credentials
    from_flags = probe(*FLAGS, "--env", ".env.prod").credentials

    source = f".env ({project.resolve() / '.env.prod'})"
    assert from_file == Credentials("http://flag:4", AC_DOTENV, "prod-file", source, AC_DOTENV)
    assert (from_flags.username, from_flags.source) == (AC, "--username/--password")
    assert probe(*FLAGS).client.source == "--username/--password"  # said when refused (401)


def test_missing_credentials_is_one_error_line(probe: Probe, project: Path) -> None:
    write(project / ".env", f"ACCOUNT_SID={AC_DOTENV}\nAUTH_TOKEN=\n")

    message = probe.fails()

    assert message.startswith("Missing credentials: pass --username and --password")


def test_corrupt_profiles_file_is_one_error_line(probe: Probe, tmp_path: Path) -> None:
    write(tmp_path / "config" / "profiles.json", "{oops")

    message = probe.fails()

    assert message.startswith(f"Cannot read {tmp_path / 'config' / 'profiles.json'}: ")


# --- Session.service() and domain_url() ----------------------------------------------------------


def test_service_from_the_flag(probe: Probe) -> None:
    assert probe(*FLAGS, "--service-sid", "my-service").service() == "my-service"


def test_service_from_the_deployinfo_of_this_account(probe: Probe, project: Path) -> None:
    record(project, AC, None, SERVICE, BUILD)

    assert probe(*FLAGS).service() == SERVICE


def test_service_from_the_deployinfo_of_the_region(probe: Probe, project: Path) -> None:
    record(project, AC, "ie1", SERVICE, BUILD)

    assert probe(*FLAGS).service(required=False) is None
    assert probe(*FLAGS, "--region", "ie1").service() == SERVICE


def test_deployinfo_of_another_account_is_not_used(probe: Probe, project: Path) -> None:
    record(project, AC_PROJECT, None, SERVICE, BUILD)

    assert probe(*FLAGS).service(required=False) is None


def test_no_service_is_an_error_saying_what_to_do(probe: Probe, project: Path) -> None:
    other = "AC" + "f" * 32
    session = probe("-u", other, "--password", "s")  # the file only knows another account
    record(project, AC, None, SERVICE, BUILD)

    with pytest.raises(click.ClickException) as caught:
        session.service()

    assert caught.value.message == (
        f"No service given: {project.resolve()} has no .twiliodeployinfo for this account: "
        "pass --service-sid (or --service-name), or run `callbox deploy` here first."
    )
    assert session.service(required=False) is None


def test_an_invalid_deploy_info_is_named(probe: Probe, project: Path) -> None:
    session = probe("-u", AC, "--password", "s")
    (project / ".twiliodeployinfo").write_text('{"not": "valid"}')
    with pytest.raises(click.ClickException) as caught:
        session.service()
    assert ".twiliodeployinfo is not valid; fix or delete it" in caught.value.message


@pytest.mark.parametrize("bad", ["../../Services", "ZS/x", "a b", "x" * 50, "-lead"])
def test_a_service_that_cannot_be_one_is_refused_before_any_request(probe: Probe, bad: str) -> None:
    session = probe("-u", AC, "--password", "s", "--service-sid", bad)
    with pytest.raises(click.ClickException) as caught:
        session.service()
    assert "neither a service SID" in caught.value.message


@pytest.mark.parametrize(
    ("server", "domain", "url"),
    [
        ("http://127.0.0.1:8080", "app-1234-dev.localhost", "http://app-1234-dev.localhost:8080"),
        ("http://127.0.0.1", "app.localhost", "http://app.localhost"),
        ("http://127.0.0.1:80", "app.localhost", "http://app.localhost"),
        ("https://callbox.example.com", "app.example.com", "https://app.example.com"),
        ("https://callbox.example.com:443/", "app.example.com", "https://app.example.com"),
        ("https://callbox.example.com:8443", "app.example.com", "https://app.example.com:8443"),
        ("http://callbox:443", "app", "http://app:443"),
    ],
)
def test_domain_url_keeps_the_servers_scheme_and_port(
    probe: Probe, server: str, domain: str, url: str
) -> None:
    session = probe(*FLAGS, "--url", server)

    assert session.domain_url(domain) == url


def test_an_invalid_pyproject_is_one_error_line_naming_it(probe: Probe, project: Path) -> None:
    # pyproject.toml is also where a [tool.callbox] config may live, so it is always read.
    pyproject = write(project / "pyproject.toml", "not toml [")

    assert probe.fails(*FLAGS).startswith(f"Config file {pyproject} is not valid TOML:")
