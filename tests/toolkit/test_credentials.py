"""Who the toolkit talks to, and as whom: the resolution order, its ties, and saved profiles."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from callbox.toolkit.credentials import (
    DEFAULT_URL,
    Credentials,
    CredentialsError,
    Profile,
    ProfileStore,
    account_of,
    config_dir,
    read_private,
    resolve,
    write_private,
)

AC = "AC" + "1" * 32
AC_ENV = "AC" + "2" * 32
AC_DOTENV = "AC" + "3" * 32
AC_PROFILE = "AC" + "4" * 32
AC_ACTIVE = "AC" + "5" * 32
SK = "SK" + "6" * 32
ENV_FILE = Path("/project/.env")


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "config" / "callbox" / "profiles.json")


def run(store: ProfileStore, **given: Any) -> Credentials:
    arguments: dict[str, Any] = {
        "url": None,
        "username": None,
        "password": None,
        "profile": None,
        "env_values": {},
        "env_file": ENV_FILE,
        "environ": {},
    }
    arguments.update(given)
    return resolve(store=store, **arguments)


def every_source(store: ProfileStore) -> dict[str, Any]:
    """A setup where every source has credentials; tests take them away one by one."""
    store.save(Profile("work", "http://work:1", AC_PROFILE, "profile-token"), activate=False)
    store.save(Profile("home", "http://home:2", AC_ACTIVE, "active-token"), activate=True)
    return {
        "username": AC,
        "password": "flag-token",
        "profile": "work",
        "environ": {"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": "env-token"},
        "env_values": {"ACCOUNT_SID": AC_DOTENV, "AUTH_TOKEN": "dotenv-token"},
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- The resolution order, one step at a time -------------------------------------------------


def test_flags_win_over_every_other_source(store: ProfileStore) -> None:
    found = run(store, **every_source(store))

    assert (found.username, found.password) == (AC, "flag-token")
    assert found.source == "--username/--password"
    assert found.account_sid == AC


def test_profile_flag_comes_second(store: ProfileStore) -> None:
    given = every_source(store)
    del given["username"], given["password"]

    found = run(store, **given)

    assert (found.username, found.password) == (AC_PROFILE, "profile-token")
    assert found.source == 'profile "work"'
    assert found.account_sid == AC_PROFILE
    assert found.url == "http://work:1"  # the chosen profile's server, not the active one's


def test_twilio_environment_variables_come_third(store: ProfileStore) -> None:
    given = every_source(store)
    del given["username"], given["password"], given["profile"]

    found = run(store, **given)

    assert (found.username, found.password) == (AC_ENV, "env-token")
    assert found.source == "$TWILIO_ACCOUNT_SID"
    assert found.account_sid == AC_ENV


def test_dotenv_comes_fourth(store: ProfileStore) -> None:
    given = every_source(store)
    del given["username"], given["password"], given["profile"], given["environ"]

    found = run(store, **given)

    assert (found.username, found.password) == (AC_DOTENV, "dotenv-token")
    assert found.source == f".env ({ENV_FILE})"
    assert found.account_sid == AC_DOTENV


def test_active_profile_comes_last(store: ProfileStore) -> None:
    every_source(store)

    found = run(store)

    assert (found.username, found.password) == (AC_ACTIVE, "active-token")
    assert found.source == 'profile "home"'
    assert found.account_sid == AC_ACTIVE
    assert found.url == "http://home:2"


def test_no_source_at_all_says_every_way_to_give_credentials(store: ProfileStore) -> None:
    with pytest.raises(CredentialsError) as caught:
        run(store)

    message = str(caught.value)
    assert message.startswith("Missing credentials:")
    for way in ("--username", "--password", "TWILIO_ACCOUNT_SID", "AUTH_TOKEN", "callbox login"):
        assert way in message
    assert "\n" not in message


# --- Ties ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("half", "missing"),
    [({"username": AC}, "--password"), ({"password": "secret"}, "--username")],
    ids=["only-username", "only-password"],
)
def test_half_of_the_flag_pair_is_an_error_naming_the_other_half(
    store: ProfileStore, half: dict[str, str], missing: str
) -> None:
    given = every_source(store)  # a half pair never falls through to another source
    del given["username"], given["password"]
    given.update(half)

    with pytest.raises(CredentialsError) as caught:
        run(store, **given)

    assert str(caught.value).startswith(f"Missing credentials: {missing} is needed too")
    assert "account SID and auth token, or an API key and secret" in str(caught.value)


def test_twilio_account_sid_without_its_token_falls_through_to_dotenv(store: ProfileStore) -> None:
    found = run(
        store,
        environ={"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": ""},
        env_values={"ACCOUNT_SID": AC_DOTENV, "AUTH_TOKEN": "dotenv-token"},
    )

    assert found.username == AC_DOTENV
    assert found.source == f".env ({ENV_FILE})"


def test_api_key_pair_from_the_environment(store: ProfileStore) -> None:
    found = run(store, environ={"TWILIO_API_KEY": SK, "TWILIO_API_SECRET": "key-secret"})

    assert (found.username, found.password) == (SK, "key-secret")
    assert found.source == "$TWILIO_API_KEY"
    assert found.account_sid is None  # a key does not say whose it is


def test_api_key_pair_takes_its_account_from_twilio_account_sid(store: ProfileStore) -> None:
    found = run(
        store,
        environ={"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_API_KEY": SK, "TWILIO_API_SECRET": "s"},
    )

    assert (found.username, found.password) == (SK, "s")
    assert found.account_sid == AC_ENV


def test_account_sid_pair_wins_over_api_key_pair(store: ProfileStore) -> None:
    found = run(
        store,
        environ={
            "TWILIO_ACCOUNT_SID": AC_ENV,
            "TWILIO_AUTH_TOKEN": "env-token",
            "TWILIO_API_KEY": SK,
            "TWILIO_API_SECRET": "key-secret",
        },
    )

    assert (found.username, found.source) == (AC_ENV, "$TWILIO_ACCOUNT_SID")


def test_api_key_without_secret_falls_through(store: ProfileStore) -> None:
    found = run(
        store,
        environ={"TWILIO_API_KEY": SK},
        env_values={"ACCOUNT_SID": AC_DOTENV, "AUTH_TOKEN": "dotenv-token"},
    )

    assert found.username == AC_DOTENV


def test_dotenv_with_an_empty_auth_token_falls_through_to_the_active_profile(
    store: ProfileStore,
) -> None:
    store.save(Profile("home", "http://home:2", AC_ACTIVE, "active-token"), activate=True)

    found = run(store, env_values={"ACCOUNT_SID": AC_DOTENV, "AUTH_TOKEN": ""})

    assert (found.username, found.source) == (AC_ACTIVE, 'profile "home"')


def test_dotenv_with_an_empty_auth_token_and_no_profile_is_missing_credentials(
    store: ProfileStore,
) -> None:
    with pytest.raises(CredentialsError, match="^Missing credentials: pass --username"):
        run(store, env_values={"ACCOUNT_SID": AC_DOTENV, "AUTH_TOKEN": ""})


def test_dotenv_auth_token_without_account_sid_falls_through(store: ProfileStore) -> None:
    with pytest.raises(CredentialsError, match="^Missing credentials"):
        run(store, env_values={"AUTH_TOKEN": "dotenv-token"})


def test_flags_with_an_api_key_have_no_known_account(store: ProfileStore) -> None:
    found = run(store, username=SK, password="key-secret")

    assert found.account_sid is None
    assert found.source == "--username/--password"


def test_profile_with_an_api_key_knows_its_saved_account(store: ProfileStore) -> None:
    store.save(Profile("key", "http://k:1", SK, "key-secret", AC_PROFILE), activate=True)

    assert run(store, profile="key").account_sid == AC_PROFILE
    assert run(store).account_sid == AC_PROFILE  # also as the active profile


def test_profile_with_an_api_key_and_no_saved_account(store: ProfileStore) -> None:
    store.save(Profile("key", "http://k:1", SK, "key-secret"), activate=True)

    assert run(store).account_sid is None


def test_profile_with_an_account_sid_but_none_saved_derives_it(store: ProfileStore) -> None:
    store.save(Profile("old", "http://o:1", AC_PROFILE, "token"), activate=True)

    assert run(store).account_sid == AC_PROFILE


def test_unknown_profile_flag_lists_the_known_ones(store: ProfileStore) -> None:
    every_source(store)

    with pytest.raises(CredentialsError) as caught:
        run(store, profile="nope", username=AC, password="flag-token")

    assert str(caught.value) == (
        'No profile named "nope" (profiles: home, work). Create it with '
        "`callbox login --profile nope`."
    )


@pytest.mark.parametrize(
    ("username", "account"),
    [(AC, AC), (SK, None), ("ac" + "1" * 32, None), ("", None), ("bob", None)],
)
def test_account_of(username: str, account: str | None) -> None:
    assert account_of(username) == account


# --- The server URL ----------------------------------------------------------------------------


def test_url_flag_wins_over_everything(store: ProfileStore) -> None:
    given = every_source(store)
    given["environ"] = {**given["environ"], "CALLBOX_URL": "http://env:8"}

    found = run(store, **given, url="http://flag:9")

    assert found.url == "http://flag:9"


def test_callbox_url_wins_over_the_profiles(store: ProfileStore) -> None:
    given = every_source(store)
    given["environ"] = {**given["environ"], "CALLBOX_URL": "http://env:8"}

    found = run(store, **given)

    assert found.url == "http://env:8"


def test_empty_callbox_url_counts_as_unset(store: ProfileStore) -> None:
    store.save(Profile("home", "http://home:2", AC_ACTIVE, "t"), activate=True)

    assert run(store, environ={"CALLBOX_URL": ""}).url == "http://home:2"


def test_chosen_profile_url_wins_over_the_active_one(store: ProfileStore) -> None:
    every_source(store)

    assert run(store, profile="work").url == "http://work:1"


def test_active_profile_url_is_used_with_credentials_from_elsewhere(store: ProfileStore) -> None:
    store.save(Profile("home", "http://home:2", AC_ACTIVE, "t"), activate=True)

    found = run(store, username=AC, password="flag-token")

    assert (found.url, found.username) == ("http://home:2", AC)


def test_default_url_without_any_profile(store: ProfileStore) -> None:
    found = run(store, username=AC, password="flag-token")

    assert found.url == DEFAULT_URL == "http://127.0.0.1:8080"
    assert not store.path.exists()  # resolving never writes


# --- Where profiles live -----------------------------------------------------------------------


def test_config_dir_prefers_callbox_config_dir(tmp_path: Path) -> None:
    environ = {"CALLBOX_CONFIG_DIR": str(tmp_path / "c"), "XDG_CONFIG_HOME": "/xdg"}

    assert config_dir(environ) == tmp_path / "c"
    assert ProfileStore.default(environ).path == tmp_path / "c" / "profiles.json"


def test_config_dir_then_xdg_config_home() -> None:
    assert config_dir({"XDG_CONFIG_HOME": "/xdg", "CALLBOX_CONFIG_DIR": ""}) == Path("/xdg/callbox")


def test_config_dir_defaults_to_dot_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert config_dir({}) == tmp_path / ".config" / "callbox"


# --- ProfileStore: save, use, remove ---------------------------------------------------------


def test_missing_file_is_an_empty_store(store: ProfileStore) -> None:
    assert store.all() == []
    assert store.active_name() is None
    assert store.active() is None
    assert not store.path.exists()


def test_saved_profile_roundtrips_and_the_file_has_the_documented_shape(
    store: ProfileStore,
) -> None:
    store.save(Profile("dev", "http://dev:1", SK, "secret", AC), activate=False)

    assert store.get("dev") == Profile("dev", "http://dev:1", SK, "secret", AC)
    assert json.loads(store.path.read_text()) == {
        "active": "dev",  # the first profile is active even without activate=True
        "profiles": {
            "dev": {"url": "http://dev:1", "username": SK, "password": "secret", "account_sid": AC}
        },
    }


def test_save_without_activate_keeps_the_active_profile(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.save(Profile("b", "http://b", AC, "2"), activate=False)

    assert store.active_name() == "a"
    assert [p.name for p in store.all()] == ["a", "b"]


def test_save_with_activate_switches(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.save(Profile("b", "http://b", AC, "2"), activate=True)

    assert store.active() == Profile("b", "http://b", AC, "2")


def test_save_replaces_a_profile_of_the_same_name(store: ProfileStore) -> None:
    store.save(Profile("a", "http://old", AC, "old"), activate=True)
    store.save(Profile("a", "http://new", SK, "new"), activate=False)

    assert store.all() == [Profile("a", "http://new", SK, "new")]


def test_all_is_sorted_by_name(store: ProfileStore) -> None:
    for name in ("zed", "alpha", "Mid"):
        store.save(Profile(name, "http://x", AC, "t"), activate=False)

    assert [p.name for p in store.all()] == ["Mid", "alpha", "zed"]
    assert store.active_name() == "zed"  # the first saved


def test_use_switches_the_active_profile(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.save(Profile("b", "http://b", AC, "2"), activate=False)

    assert store.use("b") == Profile("b", "http://b", AC, "2")
    assert store.active_name() == "b"
    assert ProfileStore(store.path).active_name() == "b"  # written, not only remembered


def test_use_of_an_unknown_profile_changes_nothing(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    before = store.path.read_bytes()

    with pytest.raises(CredentialsError, match=r'^No profile named "b" \(profiles: a\)'):
        store.use("b")

    assert store.path.read_bytes() == before


def test_remove_of_the_active_profile_falls_back_to_the_first_remaining(
    store: ProfileStore,
) -> None:
    for name in ("c", "b", "a"):
        store.save(Profile(name, f"http://{name}", AC, "t"), activate=True)
    assert store.active_name() == "a"

    store.remove("a")

    assert [p.name for p in store.all()] == ["b", "c"]
    assert store.active_name() == "b"


def test_remove_of_another_profile_keeps_the_active_one(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.save(Profile("b", "http://b", AC, "2"), activate=False)

    store.remove("b")

    assert store.active_name() == "a"
    assert "b" not in store.path.read_text()  # its credentials are gone from the file


def test_remove_of_the_last_profile_leaves_no_active_one(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "secret-token"), activate=True)

    store.remove("a")

    assert store.all() == []
    assert store.active() is None
    assert "secret-token" not in store.path.read_text()
    with pytest.raises(CredentialsError, match="^Missing credentials"):
        run(store)


def test_remove_of_an_unknown_profile_says_which_exist(store: ProfileStore) -> None:
    with pytest.raises(CredentialsError) as caught:
        store.remove("ghost")

    assert str(caught.value) == (
        'No profile named "ghost" (profiles: none yet). Create it with '
        "`callbox login --profile ghost`."
    )
    assert not store.path.exists()


def test_saving_after_removing_makes_the_new_profile_active(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.remove("a")

    store.save(Profile("b", "http://b", AC, "2"), activate=False)

    assert store.active_name() == "b"


# --- The file: private and never half-written ---------------------------------------------------


def test_file_is_0600_in_a_0700_folder(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "secret"), activate=True)

    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700


def test_file_stays_0600_when_rewritten_over_a_readable_file(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "secret"), activate=True)
    os.chmod(store.path, 0o644)

    store.save(Profile("b", "http://b", AC, "secret"), activate=False)

    assert mode(store.path) == 0o600


def test_no_temporary_files_are_left(store: ProfileStore) -> None:
    store.save(Profile("a", "http://a", AC, "1"), activate=True)
    store.save(Profile("b", "http://b", AC, "2"), activate=False)
    store.use("b")
    store.remove("a")

    assert sorted(os.listdir(store.path.parent)) == ["profiles.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    write_private(path, {"active": "a"})
    before = path.read_bytes()

    with pytest.raises(TypeError):
        write_private(path, {"active": object()})  # not JSON: fails halfway through the dump

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["profiles.json"]


def test_write_private_then_read_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "file.json"

    write_private(path, {"ü": [1, None]})

    assert read_private(path) == {"ü": [1, None]}
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert read_private(tmp_path / "missing.json") == {}


# --- Files that cannot be used ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b'{"profiles": {"a": ', b"\xff\xfe\x00garbage"],
    ids=["bad-json", "empty", "truncated", "not-utf8"],
)
def test_unreadable_file_is_a_readable_error(store: ProfileStore, content: bytes) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)

    for call in (store.all, store.active_name, lambda: run(store)):
        with pytest.raises(CredentialsError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"Cannot read {store.path}: ")
        assert message.endswith("Fix or delete the file, then run `callbox login` again.")
        assert "\n" not in message


def test_a_folder_in_place_of_the_file_is_a_readable_error(store: ProfileStore) -> None:
    store.path.mkdir(parents=True)

    with pytest.raises(CredentialsError, match=f"^Cannot read {store.path}: "):
        store.all()


@pytest.mark.parametrize("document", ["[]", '"text"', "42", "null"])
def test_a_file_without_a_json_object_is_an_error(store: ProfileStore, document: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(document)

    with pytest.raises(CredentialsError) as caught:
        store.all()

    assert str(caught.value) == (
        f"{store.path} does not hold a JSON object; delete it and log in again."
    )


@pytest.mark.parametrize("profiles", [[], "x", 1])
def test_profiles_that_are_not_an_object_is_an_error(store: ProfileStore, profiles: Any) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"profiles": profiles}))

    with pytest.raises(CredentialsError, match="'profiles' is not an object; delete the file"):
        store.all()
    with pytest.raises(CredentialsError, match="'profiles' is not an object"):
        store.save(Profile("a", "http://a", AC, "1"), activate=True)


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "http://a", "username": AC},
        {"url": "http://a", "username": AC, "password": 123},
        {"username": AC, "password": "p"},
        {"url": None, "username": AC, "password": "p"},
        "http://a",
        [],
    ],
    ids=["no-password", "number-password", "no-url", "null-url", "string", "list"],
)
def test_incomplete_profile_says_to_log_in_again(store: ProfileStore, fields: Any) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"active": "b", "profiles": {"b": fields}}))
    expected = f'{store.path}: profile "b" is incomplete; run `callbox login --profile b` again.'

    for call in (lambda: store.get("b"), store.active, store.all, lambda: run(store)):
        with pytest.raises(CredentialsError) as caught:
            call()
        assert str(caught.value) == expected


def test_a_non_string_account_sid_is_ignored(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    fields = {"url": "http://a", "username": SK, "password": "p", "account_sid": 7}
    store.path.write_text(json.dumps({"active": "a", "profiles": {"a": fields}}))

    assert store.get("a").account_sid is None


def test_a_non_string_active_name_counts_as_none(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"active": 3, "profiles": {}}))

    assert store.active_name() is None
    assert store.active() is None


def test_a_dangling_active_name_is_an_error_naming_it(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"active": "gone", "profiles": {}}))

    with pytest.raises(CredentialsError, match='^No profile named "gone"'):
        run(store)


# --- Known faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    ["{not json", json.dumps({"active": "gone", "profiles": {}})],
    ids=["corrupt", "dangling-active"],
)
def test_flags_and_url_do_not_need_the_profiles_file(store: ProfileStore, document: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(document)

    found = run(store, url="http://flag:9", username=AC, password="flag-token")

    assert (found.url, found.source) == ("http://flag:9", "--username/--password")


def test_unknown_name_is_reported_as_unknown_even_beside_an_incomplete_profile(
    store: ProfileStore,
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"profiles": {"broken": {"url": "http://a"}}}))

    with pytest.raises(CredentialsError, match='^No profile named "other" \\(profiles: broken\\)'):
        store.get("other")


def test_an_incomplete_profile_can_be_removed(store: ProfileStore) -> None:
    store.save(Profile("good", "http://g", AC, "t"), activate=True)
    data = json.loads(store.path.read_text())
    data["profiles"]["broken"] = {"url": "http://b"}
    store.path.write_text(json.dumps(data))

    store.remove("broken")

    assert [p.name for p in store.all()] == ["good"]
