"""``callbox env set|get|list|unset|import``: the variables of a deployed environment.

A change applies to the functions' next invocation, without a redeploy. Every subcommand reads
the ``env`` scope of the config file, as Twilio's toolkit does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from callbox.toolkit.options import (
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.session import Session, open_session

F = TypeVar("F", bound=Callable[..., Any])
HIDDEN = "Use --show-values to display value"


def _target_options(function: F) -> F:
    """What every subcommand takes: the API flags, the service and the environment."""
    return api_options(service_sid_option(environment_options(function)))


class _Target:
    """The environment a subcommand works on, and its variables."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.environment = session.find_environment(str(session.service()))
        self.service_sid = str(self.environment["service_sid"])
        self.sid = str(self.environment["sid"])

    def variables(self) -> list[dict[str, Any]]:
        return self.session.client.variables(self.service_sid, self.sid)

    def set(self, values: dict[str, str], source: Path | str, remove_others: bool = False) -> None:
        client = self.session.client
        client.set_variables(
            self.service_sid, self.sid, values, source=source, remove_others=remove_others
        )

    def variable(self, key: str) -> dict[str, Any]:
        for variable in self.variables():
            if variable["key"] == key:
                return variable
        raise click.ClickException(
            f"Could not find environment variable with name {key} for service "
            f'"{self.service_sid}" and environment "{self.sid}".'
        )


def _run(ctx: click.Context, work: Callable[[_Target], None]) -> None:
    with open_session(ctx, "env") as session:
        work(_Target(session))


@click.group()
def env() -> None:
    """Read and change the variables of a deployed environment (no redeploy needed).

    \b
    Examples:
      callbox env list --show-values
      callbox env set --key GREETING --value hello --environment stage
      callbox env import --env .env.prod --production
    """


@env.command("get")
@click.option("--key", required=True, help="The variable's name.")
@_target_options
@click.pass_context
def get_variable(ctx: click.Context, key: str, **_flags: Any) -> None:
    """Print the value of variable KEY, and nothing else.

    \b
    Examples:
      callbox env get --key GREETING
      callbox env get --key API_KEY --production
    """
    _run(ctx, lambda target: click.echo(target.variable(key)["value"]))


@env.command("set")
@click.option("--key", required=True, help="The variable's name (letters, digits, _).")
@click.option("--value", required=True, help="The value (at most 450 bytes).")
@_target_options
@click.pass_context
def set_variable(ctx: click.Context, key: str, value: str, **_flags: Any) -> None:
    """Create or change variable KEY; the functions see it on their next invocation.

    \b
    Examples:
      callbox env set --key GREETING --value hello
      callbox env set --key API_KEY --value s3cret --environment stage
    """

    def work(target: _Target) -> None:
        target.set({key: value}, source="--key/--value")
        click.echo(f"{key} has been set")

    _run(ctx, work)


@env.command("unset")
@click.option("--key", required=True, help="The variable's name.")
@_target_options
@click.pass_context
def unset_variable(ctx: click.Context, key: str, **_flags: Any) -> None:
    """Delete variable KEY from the environment.

    \b
    Examples:
      callbox env unset --key GREETING
      callbox env unset --key API_KEY --production
    """

    def work(target: _Target) -> None:
        variable = target.variable(key)
        target.session.client.delete_variable(target.service_sid, target.sid, variable["sid"])
        click.echo(f"{key} has been deleted")

    _run(ctx, work)


@env.command("list")
@click.option("--show-values", is_flag=True, default=False, help="Print the values too.")
@_target_options
@output_option
@click.pass_context
def list_variables(ctx: click.Context, show_values: bool, **_flags: Any) -> None:
    """List the environment's variables: KEY and value (with --show-values) per line.

    With -o json: {"serviceSid", "environmentSid", "variables": [{"key", "value"}]}, where
    value is null unless --show-values is given.

    \b
    Examples:
      callbox env list
      callbox env list --show-values --environment stage
      callbox env list --show-values -o json
    """

    def work(target: _Target) -> None:
        variables = target.variables()
        if target.session.printer.json:
            target.session.printer.emit_json(
                {
                    "serviceSid": target.service_sid,
                    "environmentSid": target.sid,
                    "variables": [
                        {"key": v["key"], "value": v["value"] if show_values else None}
                        for v in variables
                    ],
                }
            )
            return
        for variable in variables:
            click.echo(f"{variable['key']} {variable['value'] if show_values else HIDDEN}")

    _run(ctx, work)


@env.command("import")
@_target_options
@click.pass_context
def import_variables(ctx: click.Context, **_flags: Any) -> None:
    """Make the environment's variables those of the .env file (--env, default .env).

    Variables missing from the file are DELETED from the environment; ACCOUNT_SID,
    AUTH_TOKEN and empty values are never uploaded.

    \b
    Examples:
      callbox env import                          # .env to the dev environment
      callbox env import --env .env.prod --production
    """

    def work(target: _Target) -> None:
        session = target.session
        if not session.env_file.is_file():
            # Importing "nothing" would delete every variable: refuse rather than guess.
            raise click.ClickException(
                f'Failed to find .env file at "{session.env_file}": nothing to import (this '
                "would delete every variable of the environment). Pass --env <file>."
            )
        target.set(session.uploadable_env(), source=session.env_file, remove_others=True)
        click.echo("Environment variables updated")

    _run(ctx, work)
