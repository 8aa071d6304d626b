"""``callbox accounts`` and ``callbox keys``: the accounts and API keys of a server's data folder.

Both open the data folder directly (they need the secret key kept there), so they work without
credentials and without a running server, as the machine's administrator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from callbox.config import Config
from callbox.toolkit.options import data_option

if TYPE_CHECKING:
    from callbox.store.accounts import Accounts


def _store(data_dir: Path | None) -> Accounts:
    from callbox.store.accounts import Accounts
    from callbox.store.db import Store

    config = Config.load(data_dir=str(data_dir) if data_dir else None)
    try:
        store = Store.open(Path(config.data_dir), config.database_url, config.secret_key)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return Accounts(store)


@click.group()
def accounts() -> None:
    """Create and list accounts of the server whose data folder is given.

    \b
    Examples:
      callbox accounts create "Team B" --data /srv/callbox
      callbox accounts list --data /srv/callbox
    """


@accounts.command("create")
@click.argument("friendly_name")
@data_option
@click.option("-o", "output", type=click.Choice(["text", "json"]), default="text")
def accounts_create(friendly_name: str, data_dir: Path | None, output: str) -> None:
    """Create an account; prints its ACCOUNT_SID and AUTH_TOKEN.

    \b
    Example:
      callbox accounts create "Team B" --data /srv/callbox
    """
    book = _store(data_dir)
    owner = next((a for a in _all(book) if a.owner_account_sid is None), None)
    sid, token = book.create_account(friendly_name, owner.sid if owner else None)
    _print({"account_sid": sid, "auth_token": token}, output)


@accounts.command("list")
@data_option
def accounts_list(data_dir: Path | None) -> None:
    """List accounts (SID, name, status).

    \b
    Example:
      callbox accounts list --data /srv/callbox
    """
    for row in _all(_store(data_dir)):
        kind = "owner" if row.owner_account_sid is None else "account"
        click.echo(f"{row.sid}  {kind:8} {row.status:8} {row.friendly_name}")


def _all(book: Accounts) -> list[Any]:
    import sqlalchemy as sa

    from callbox.store.tables import accounts as table

    with book.store.begin() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.date_created)).all())


@click.group()
def keys() -> None:
    """Create, list and remove API keys (SK... + secret) of an account.

    \b
    Examples:
      callbox keys create --account AC0123... --name ci
      callbox keys list --account AC0123...
      callbox keys remove --account AC0123... SK0123...
    """


@keys.command("create")
@click.option("--account", "account_sid", required=True, help="The account (AC...).")
@click.option("--name", "friendly_name", default="", help="A name for the key.")
@data_option
@click.option("-o", "output", type=click.Choice(["text", "json"]), default="text")
def keys_create(account_sid: str, friendly_name: str, data_dir: Path | None, output: str) -> None:
    """Create an API key; its secret is printed once.

    \b
    Example:
      callbox keys create --account AC0123... --name ci
    """
    book = _store(data_dir)
    if book.account(account_sid) is None:
        raise click.ClickException(f"No account {account_sid} in this data folder.")
    sid, secret = book.create_key(account_sid, friendly_name)
    _print({"api_key": sid, "api_secret": secret}, output)


@keys.command("list")
@click.option("--account", "account_sid", required=True)
@data_option
def keys_list(account_sid: str, data_dir: Path | None) -> None:
    """List an account's API keys (never their secrets).

    \b
    Example:
      callbox keys list --account AC0123... --data /srv/callbox
    """
    for row in _store(data_dir).keys(account_sid):
        click.echo(f"{row.sid}  {row.friendly_name}")


@keys.command("remove")
@click.option("--account", "account_sid", required=True)
@click.argument("key_sid")
@data_option
def keys_remove(account_sid: str, key_sid: str, data_dir: Path | None) -> None:
    """Remove an API key: a running server refuses it within 30 seconds.

    \b
    Example:
      callbox keys remove --account AC0123... SK0123...
    """
    if not _store(data_dir).delete_key(account_sid, key_sid):
        raise click.ClickException(f"No key {key_sid} in account {account_sid}.")
    click.echo(f"Removed {key_sid}.")


def _print(values: dict[str, str], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(values))
    else:
        for key, value in values.items():
            click.echo(f"{key.upper()}={value}")
