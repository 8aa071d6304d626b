"""``callbox login`` and ``callbox profiles list|use|remove``: saved server + credentials.

Profiles are kept in one file readable only by its owner (see toolkit/credentials.py), so
commands work without --username/--password once a profile is active.
"""

from __future__ import annotations

import json
import os
import re

import click

from callbox.toolkit.client import ApiClient, server_url
from callbox.toolkit.credentials import DEFAULT_URL, Profile, ProfileStore, account_of

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@click.command()
@click.option("--url", default=None, help=f"The callbox server (default {DEFAULT_URL}).")
@click.option("-u", "--username", default=None, help="Account SID or API key (SK...).")
@click.option("--password", default=None, help="Auth token, or the API key's secret.")
@click.option("--profile", "name", default=None, help="Name of the profile (default: default).")
@click.option(
    "--no-check", is_flag=True, default=False, help="Save without asking the server first."
)
def login(
    url: str | None, username: str | None, password: str | None, name: str | None, no_check: bool
) -> None:
    """Save a server and credentials as a profile, and make it the active one.

    Asks for what is not given (the password without echo); checks the credentials against
    the server unless --no-check.

    \b
    Examples:
      callbox login                                   # asks for everything
      callbox login --url https://callbox.example.com -u AC0123... --profile prod
    """
    # Asks only when something else must be asked too: with -u and --password given (a
    # script, CI), the profile is "default" on the default URL unless the flags say otherwise.
    asking = not (username and password)
    name = name or (click.prompt("Profile name", default="default") if asking else "default")
    if not _NAME.fullmatch(name):
        raise click.ClickException(
            f'"{name}" is not a usable profile name: use letters, digits, ".", "_" and "-".'
        )
    if not url:
        default = os.environ.get("CALLBOX_URL") or DEFAULT_URL
        url = click.prompt("Server URL", default=default) if asking else default
    url = server_url(url)
    username = username or click.prompt("Account SID or API key")
    password = password or click.prompt("Auth token or API secret", hide_input=True)
    account = account_of(username)
    if not no_check:
        client = ApiClient(url, username, password, timeout=10.0)
        try:
            # Any authenticated read proves the pair; a service list works for keys too.
            listed = client.first_services()
            if not isinstance(listed.get("services"), list):
                raise click.ClickException(
                    f"{url} answered, but not as callbox's API (no service list): check the URL."
                )
            account = account or client.account_of_key()  # an API key: the server says whose
        finally:
            client.close()
    store = ProfileStore.default()
    store.save(Profile(name, url, username, password, account), activate=True)
    click.echo(f'Saved profile "{name}" ({username} on {url}); it is now the active profile.')


@click.group()
def profiles() -> None:
    """List, choose and remove the profiles saved by `callbox login`.

    \b
    Examples:
      callbox profiles list
      callbox profiles use prod
      callbox profiles remove old
    """


@profiles.command("list")
@click.option("-o", "--output-format", type=click.Choice(["", "json"]), default="")
def profiles_list(output_format: str) -> None:
    """List profiles; the active one is marked with *.

    \b
    Examples:
      callbox profiles list
      callbox profiles list -o json
    """
    store = ProfileStore.default()
    active = store.active_name()
    rows = [
        {"name": p.name, "url": p.url, "username": p.username, "active": p.name == active}
        for p in store.all()
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent="\t"))
        return
    if not rows:
        click.echo("No profiles yet: run `callbox login`.")
    for row in rows:
        mark = "*" if row["active"] else " "
        click.echo(f"{mark} {row['name']}  {row['username']}  {row['url']}")


@profiles.command("use")
@click.argument("name")
def profiles_use(name: str) -> None:
    """Make NAME the active profile.

    \b
    Example:
      callbox profiles use prod
    """
    profile = ProfileStore.default().use(name)
    click.echo(f'"{profile.name}" is now the active profile ({profile.url}).')


@profiles.command("remove")
@click.argument("name")
def profiles_remove(name: str) -> None:
    """Forget the profile NAME (its credentials are removed from the file).

    \b
    Example:
      callbox profiles remove old
    """
    store = ProfileStore.default()
    store.remove(name)
    active = store.active_name()
    click.echo(f'Removed "{name}".' + (f' The active profile is "{active}".' if active else ""))
