"""callbox accounts / keys: administration of a data folder from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from callbox.store.accounts import Accounts
from callbox.store.db import Store
from callbox.toolkit.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_accounts_and_keys_authenticate(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("accounts", "create", "Team B", "--data", data, "-o", "json")
    assert code == 0, out
    account = json.loads(out)
    code, out = run("keys", "create", "--account", account["account_sid"], "--data", data)
    assert code == 0, out
    values = dict(line.split("=", 1) for line in out.strip().splitlines())
    store = Store.open(Path(data))
    try:
        book = Accounts(store)
        assert book.authenticate(account["account_sid"], account["auth_token"])
        assert book.authenticate(values["API_KEY"], values["API_SECRET"]) == account["account_sid"]
    finally:
        store.close()
    code, out = run("keys", "list", "--account", account["account_sid"], "--data", data)
    assert values["API_KEY"] in out and values["API_SECRET"] not in out
    code, out = run(
        "keys", "remove", "--account", account["account_sid"], values["API_KEY"], "--data", data
    )
    assert code == 0
    code, out = run(
        "keys", "remove", "--account", account["account_sid"], values["API_KEY"], "--data", data
    )
    assert code != 0 and "No key" in out
    code, out = run("accounts", "list", "--data", data)
    assert account["account_sid"] in out and "Team B" in out


def test_keys_for_an_unknown_account(tmp_path: Path) -> None:
    code, out = run("keys", "create", "--account", "AC" + "0" * 32, "--data", str(tmp_path))
    assert code != 0 and "No account" in out


def test_secrets_are_not_in_the_database_in_clear(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = run("accounts", "create", "X", "--data", str(data), "-o", "json")
    token = json.loads(out)["auth_token"]
    database = b"".join(f.read_bytes() for f in data.glob("callbox.db*"))  # with the WAL
    assert len(database) > 0 and token.encode() not in database
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
