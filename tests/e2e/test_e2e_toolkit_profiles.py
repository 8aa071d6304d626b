"""Profiles against a real `callbox serve`: login, list, use, remove, commands without flags;
and the CLI-wide failure rules as a user meets them in a real process: one `Error:` line on
stderr, exit 1, no traceback unless --debug."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from toolkit_output import one_error_line

HELLO = 'def handler(context, event, callback):\n    callback(None, "hi")\n'
# Empty values count as unset: the user's shell may not lend credentials to these tests.
NO_TWILIO_ENV = {
    name: ""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET")
}


def tiny_project(parent: Path, name: str | None = None) -> Path:
    """A project with one function; its folder name (the service's name) is unique on the
    module's server, so deploys of different tests never meet."""
    root = parent / (name or f"hello-{uuid.uuid4().hex[:8]}")
    (root / "functions").mkdir(parents=True)
    (root / "functions" / "hello.py").write_text(HELLO)
    return root


class User:
    """One user of the module's server, with a config folder of their own."""

    def __init__(self, toolkit: Any, tmp_path: Path) -> None:
        self.toolkit = toolkit
        self.server = toolkit.server
        self.home = tmp_path
        self.config = tmp_path / "config"
        self.env = {"CALLBOX_CONFIG_DIR": str(self.config), "CALLBOX_URL": "", **NO_TWILIO_ENV}

    @property
    def profiles_file(self) -> Path:
        return self.config / "profiles.json"

    def profiles(self) -> dict[str, Any]:
        return json.loads(self.profiles_file.read_text())

    def run(self, *args: str, input: str | None = None, cwd: Path | None = None) -> Any:
        return self.toolkit.run(*args, cwd=cwd or self.home, auth=False, env=self.env, input=input)

    def process(self, *args: str, cwd: Path | None = None, **env: str) -> Any:
        return self.toolkit.run_process(
            *args, cwd=cwd or self.home, auth=False, env={**self.env, **env}
        )

    def login_unchecked(self, name: str, url: str, username: str, password: str) -> Any:
        args = ["--profile", name, "--url", url, "-u", username, "--password", password]
        return self.run("login", "--no-check", *args)

    def login(self, name: str, *extra: str, password: str | None = None) -> Any:
        return self.run(
            "login",
            "--profile",
            name,
            "--url",
            self.server.base_url,
            "-u",
            self.server.account_sid,
            "--password",
            password or self.server.auth_token,
            *extra,
        )


@pytest.fixture
def user(toolkit: Any, tmp_path: Path) -> User:
    return User(toolkit, tmp_path)


# --- login --------------------------------------------------------------------------------------


def test_login_with_flags_saves_a_private_active_profile(user: User) -> None:
    result = user.login("main")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f'Saved profile "main" ({user.server.account_sid} on {user.server.base_url}); '
        "it is now the active profile.\n"
    )
    assert user.profiles() == {
        "active": "main",
        "profiles": {
            "main": {
                "url": user.server.base_url,
                "username": user.server.account_sid,
                "password": user.server.auth_token,
                "account_sid": user.server.account_sid,
            }
        },
    }
    assert stat.S_IMODE(user.profiles_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(user.config.stat().st_mode) == 0o700
    assert sorted(p.name for p in user.config.iterdir()) == ["profiles.json"]


def test_active_profile_is_used_without_credentials_or_url(user: User) -> None:
    assert user.login("main").exit_code == 0
    project = tiny_project(user.home)

    result = user.run("deploy", "-o", "json", cwd=project)

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["serviceName"] == project.name
    assert summary["functions"] == [
        {
            "access": "public",
            "path": "/hello",
            "url": f"http://{summary['domain']}:{user.server.port}/hello",
        }
    ]
    with user.server.environment(summary["domain"]) as site:
        assert site.get("/hello").text == "hi"
    info = json.loads((project / ".twiliodeployinfo").read_text())
    assert info == {
        f"{user.server.account_sid}:us1": {
            "serviceSid": summary["serviceSid"],
            "latestBuild": summary["buildSid"],
        }
    }


def test_a_failed_login_leaves_existing_profiles_alone(user: User) -> None:
    assert user.login("main").exit_code == 0
    before = user.profiles_file.read_bytes()

    result = user.login("other", password="wrong-token")

    assert result.exit_code == 1
    assert user.profiles_file.read_bytes() == before


def test_login_asks_for_what_is_missing_and_hides_the_token(user: User) -> None:
    answers = f"dev\n{user.server.base_url}/\n{user.server.account_sid}\n{user.server.auth_token}\n"

    result = user.run("login", input=answers)

    assert result.exit_code == 0, result.output
    assert "Profile name [default]: " in result.output
    assert "Server URL [http://127.0.0.1:8080]: " in result.output
    assert "Account SID or API key: " in result.output
    assert "Auth token or API secret: " in result.output
    assert user.server.auth_token not in result.output
    profile = user.profiles()["profiles"]["dev"]
    assert profile["url"] == user.server.base_url  # the trailing slash is dropped
    assert profile["password"] == user.server.auth_token
    assert user.profiles()["active"] == "dev"


def test_login_prompt_defaults(user: User) -> None:
    answers = f"\n\n{user.server.account_sid}\nanything\n"

    result = user.run("login", "--no-check", input=answers)

    assert result.exit_code == 0, result.output
    assert user.profiles()["profiles"]["default"]["url"] == "http://127.0.0.1:8080"


def test_login_no_check_saves_without_asking_the_server(user: User, unreachable: str) -> None:
    nowhere = unreachable

    result = user.login_unchecked("later", nowhere, "SKnope", "x")

    assert result.exit_code == 0, result.output
    assert user.profiles()["profiles"]["later"] == {
        "url": nowhere,
        "username": "SKnope",
        "password": "x",
        "account_sid": None,
    }
    # The unchecked profile fails where it is used, in one line saying what to do.
    failed = user.run("deploy", "-o", "json", cwd=tiny_project(user.home))
    assert failed.exit_code == 1
    assert failed.output.startswith(f"Error: Cannot reach the callbox server at {nowhere}: ")
    assert failed.output.count("\n") == 1


def test_login_without_answers_is_aborted_cleanly(user: User) -> None:
    result = user.process("login")  # stdin is closed: the first prompt reads end-of-file

    assert result.returncode == 1
    assert "Profile name [default]: " in result.stdout
    assert result.stderr.strip() == "Aborted."
    assert not user.profiles_file.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--profile", "bad name", "--url", "http://x"],
            'Error: "bad name" is not a usable profile name: use letters, digits, ".", "_" '
            'and "-".',
        ),
        (
            ["--profile", "-dash-first", "--url", "http://x"],
            'Error: "-dash-first" is not a usable profile name',
        ),
        (
            ["--profile", "ok", "--url", "ftp://x"],
            'Error: "ftp://x" is not a server URL: give http(s)://host[:port], e.g. '
            "http://127.0.0.1:8080 (--url, CALLBOX_URL or the profile).",
        ),
        (["--profile", "ok", "--url", "127.0.0.1:8080"], 'Error: "127.0.0.1:8080" is not a server'),
    ],
    ids=["space", "leading-dash", "ftp", "no-scheme"],
)
def test_login_refuses_bad_names_and_urls(user: User, args: list[str], message: str) -> None:
    result = user.run("login", "--no-check", "-u", "ACx", "--password", "y", *args)

    assert result.exit_code == 1
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert not user.profiles_file.exists()


def test_login_with_an_api_key_then_deploy_records_the_keys_account(user: User) -> None:
    created = user.server.client.post(
        f"/2010-04-01/Accounts/{user.server.account_sid}/Keys.json",
        data={"FriendlyName": "profiles e2e"},
    )
    assert created.status_code == 201, created.text
    key, secret = created.json()["sid"], created.json()["secret"]
    # A key does not name its account; login learns it from the services it lists (one at least).
    name = f"key-{uuid.uuid4().hex[:8]}"
    service = user.server.client.post(
        "/v1/Services", data={"UniqueName": name, "FriendlyName": name}
    )
    assert service.status_code == 201, service.text

    result = user.run(
        "login", "--profile", "key", "--url", user.server.base_url, "-u", key, "--password", secret
    )

    assert result.exit_code == 0, result.output
    assert user.profiles()["profiles"]["key"]["account_sid"] == user.server.account_sid
    project = tiny_project(user.home)
    deployed = user.run("deploy", "-o", "json", cwd=project)
    assert deployed.exit_code == 0, deployed.output
    info = json.loads((project / ".twiliodeployinfo").read_text())
    assert list(info) == [f"{user.server.account_sid}:us1"]


# --- profiles list | use | remove -----------------------------------------------------------------


def test_profiles_list_marks_the_active_one(user: User) -> None:
    assert user.login("zeta").exit_code == 0
    assert user.login("alpha").exit_code == 0
    sid, url = user.server.account_sid, user.server.base_url

    result = user.run("profiles", "list")

    assert result.exit_code == 0, result.output
    assert result.output == f"* alpha  {sid}  {url}\n  zeta  {sid}  {url}\n"
    assert user.server.auth_token not in result.output


def test_profiles_list_as_json(user: User) -> None:
    assert user.login("zeta").exit_code == 0
    assert user.login("alpha").exit_code == 0

    result = user.run("profiles", "list", "-o", "json")

    assert result.exit_code == 0, result.output
    entry = {"url": user.server.base_url, "username": user.server.account_sid}
    assert json.loads(result.output) == [
        {"name": "alpha", **entry, "active": True},
        {"name": "zeta", **entry, "active": False},
    ]
    assert user.server.auth_token not in result.output


def test_profiles_list_without_profiles(user: User) -> None:
    result = user.run("profiles", "list")

    assert (result.exit_code, result.output) == (0, "No profiles yet: run `callbox login`.\n")
    empty = user.run("profiles", "list", "-o", "json")
    assert (empty.exit_code, json.loads(empty.output)) == (0, [])
    assert not user.profiles_file.exists()  # listing never writes


def test_profiles_use_switches_what_commands_use(user: User, unreachable: str) -> None:
    assert user.login("good").exit_code == 0
    nowhere = unreachable
    assert user.login_unchecked("gone", nowhere, "ACx", "y").exit_code == 0
    project = tiny_project(user.home)
    assert user.run("deploy", "-o", "json", cwd=project).exit_code == 1  # "gone" is active

    result = user.run("profiles", "use", "good")

    assert result.exit_code == 0, result.output
    assert result.output == f'"good" is now the active profile ({user.server.base_url}).\n'
    assert user.profiles()["active"] == "good"
    deployed = user.run("deploy", "-o", "json", cwd=project)
    assert deployed.exit_code == 0, deployed.output


def test_profile_flag_picks_a_profile_that_is_not_active(user: User, unreachable: str) -> None:
    assert user.login("good").exit_code == 0
    nowhere = unreachable
    assert user.login_unchecked("gone", nowhere, "ACx", "y").exit_code == 0

    result = user.run("deploy", "-o", "json", "--profile", "good", cwd=tiny_project(user.home))

    assert result.exit_code == 0, result.output
    assert user.profiles()["active"] == "gone"


def test_twilio_spellings_with_a_short_profile_flag(user: User, unreachable: str) -> None:
    # From issue 13: the seeds write `twilio serverless:deploy -p <profile>`, `serverless:env:set`.
    assert user.login("good").exit_code == 0
    assert user.login_unchecked("gone", unreachable, "ACx", "y").exit_code == 0  # active
    project = tiny_project(user.home)

    deployed = user.process("serverless:deploy", "-p", "good", "-o", "json", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    summary = json.loads(deployed.stdout)
    setting = ["--key", "GREETING", "--value", "Ahoy", "-p", "good"]
    assert user.process("serverless:env:set", *setting, cwd=project).returncode == 0
    listed = user.process("env:list", "-p", "good", cwd=project)
    assert listed.returncode == 0 and "GREETING" in listed.stdout, listed.stderr
    services = user.process("serverless:list", "services", "-p", "good", "-o", "json", cwd=project)
    assert summary["serviceSid"] in services.stdout, services.stderr
    profiles = user.process("profiles:list", cwd=project)
    assert "good" in profiles.stdout and "gone" in profiles.stdout


def test_profiles_remove_the_active_one_falls_back(user: User) -> None:
    for name in ("c", "b", "a"):
        assert user.login(name).exit_code == 0

    result = user.run("profiles", "remove", "a")

    assert result.exit_code == 0, result.output
    assert result.output == 'Removed "a". The active profile is "b".\n'
    assert user.profiles()["active"] == "b"
    assert sorted(user.profiles()["profiles"]) == ["b", "c"]
    assert stat.S_IMODE(user.profiles_file.stat().st_mode) == 0o600


def test_profiles_remove_the_last_one(user: User) -> None:
    assert user.login("only").exit_code == 0

    result = user.run("profiles", "remove", "only")

    assert (result.exit_code, result.output) == (0, 'Removed "only".\n')
    assert user.profiles() == {"active": None, "profiles": {}}
    assert user.server.auth_token not in user.profiles_file.read_text()
    missing = user.run("deploy", "-o", "json", cwd=tiny_project(user.home))
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: Missing credentials: ")


@pytest.mark.parametrize("command", ["use", "remove"])
def test_unknown_profile_is_one_error_line_listing_the_known(user: User, command: str) -> None:
    assert user.login("main").exit_code == 0
    before = user.profiles_file.read_bytes()

    result = user.run("profiles", command, "nope")

    assert result.exit_code == 1
    assert result.output == (
        'Error: No profile named "nope" (profiles: main). Create it with '
        "`callbox login --profile nope`.\n"
    )
    assert user.profiles_file.read_bytes() == before


def test_unknown_profile_flag_on_a_command(user: User) -> None:
    result = user.run("deploy", "--profile", "nope", cwd=tiny_project(user.home))

    assert result.exit_code == 1
    assert result.output == (
        'Error: No profile named "nope" (profiles: none yet). Create it with '
        "`callbox login --profile nope`.\n"
    )


def test_corrupt_profiles_file_is_one_error_line(user: User) -> None:
    user.config.mkdir()
    user.profiles_file.write_text("{not json")

    result = user.process("profiles", "list")

    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line.startswith(f"Error: Cannot read {user.profiles_file}: ")
    assert line.endswith("Fix or delete the file, then run `callbox login` again.")


# --- Failure rules, in real processes -------------------------------------------------------------


def test_missing_credentials_is_one_line(user: User) -> None:
    user.config.mkdir()

    result = user.process("deploy", cwd=tiny_project(user.home))

    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line.startswith("Error: Missing credentials: pass --username and --password")
    assert "callbox login" in line


def test_debug_shows_the_traceback(user: User) -> None:
    user.config.mkdir()

    result = user.process("deploy", "--debug", cwd=tiny_project(user.home))

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "CredentialsError: Missing credentials" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: Missing credentials")


def test_invalid_config_file_is_one_line_naming_it(user: User) -> None:
    project = tiny_project(user.home)
    rc = project / ".twilioserverlessrc"
    rc.write_text("{serviceSid: ")
    flags = ["--url", user.server.base_url, "-u", user.server.account_sid, "--password", "x"]

    result = user.process("deploy", *flags, cwd=project)

    assert result.returncode == 1
    assert one_error_line(result.stderr).startswith(f"Error: Config file {rc} is not valid JSON5")


def test_missing_env_file_is_one_line(user: User) -> None:
    project = tiny_project(user.home)
    flags = ["--url", user.server.base_url, "-u", user.server.account_sid, "--password", "x"]

    result = user.process("deploy", "--env", ".env.nope", *flags, cwd=project)

    assert result.returncode == 1
    assert one_error_line(result.stderr) == (
        f'Error: Failed to find .env file at "{project.resolve() / ".env.nope"}"'
    )


def test_login_with_every_flag_asks_nothing(toolkit: Any, tmp_path: Path) -> None:
    env = {"CALLBOX_CONFIG_DIR": str(tmp_path / "config")}
    server = toolkit.server
    result = toolkit.run_process(
        "login", "--url", server.base_url, "-u", server.account_sid, "--password",
        server.auth_token, cwd=tmp_path, auth=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # stdin is not a terminal: no prompt
    assert 'Saved profile "default"' in result.stdout
