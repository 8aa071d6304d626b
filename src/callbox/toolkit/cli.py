"""The ``callbox`` command line: the group, its commands (toolkit/commands/, admin.py) and
the rule that a user's mistake is one line, not a traceback."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from callbox import __version__
from callbox.toolkit.admin import accounts, keys, serve
from callbox.toolkit.client import ApiError
from callbox.toolkit.commands.assets import assets
from callbox.toolkit.commands.deploy import deploy
from callbox.toolkit.commands.env import env
from callbox.toolkit.commands.init import init
from callbox.toolkit.commands.listing import list_command
from callbox.toolkit.commands.logs import logs
from callbox.toolkit.commands.profiles import login, profiles
from callbox.toolkit.commands.promote import promote
from callbox.toolkit.commands.start import start
from callbox.toolkit.commands.templates import list_templates, new
from callbox.toolkit.credentials import CredentialsError
from callbox.toolkit.init import InitError
from callbox.toolkit.project import ProjectError
from callbox.toolkit.rcfile import RcError
from callbox.toolkit.resources import DeployError


class ToolkitGroup(click.Group):
    """Turns the failures a user can act on into one ``Error: ...`` line and exit code 1."""

    debug = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if self.debug:
                traceback.print_exc()
            raise click.ClickException(str(exc)) from None


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callbox")
def cli() -> None:
    """callbox: Twilio Functions & Assets, self-hosted, with functions written in Python.

    A failure prints one line; run again with --debug (anywhere on the line) for the traceback.

    \b
    Examples:
      callbox init my-project && cd my-project && callbox start
      callbox serve --data ./data
      callbox deploy --production
    """


cli.add_command(init)
cli.add_command(start)
cli.add_command(serve)
cli.add_command(accounts)
cli.add_command(keys)
cli.add_command(deploy)
cli.add_command(promote)
cli.add_command(promote, "activate")
cli.add_command(login)
cli.add_command(profiles)

cli.add_command(list_command, "list")
cli.add_command(list_command, "ls")
cli.add_command(logs)
cli.add_command(env)
cli.add_command(new)
cli.add_command(new, "template")
cli.add_command(list_templates)
cli.add_command(assets)

# Failures a user can act on: one line, never a traceback (that is what --debug is for).
USER_ERRORS = (ApiError, DeployError, CredentialsError, RcError, ProjectError, InitError)


def main() -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    ToolkitGroup.debug = debug
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug of ours: one readable line unless --debug
        if debug:
            traceback.print_exc()
        else:
            click.echo(f"Error: {exc} (run again with --debug for the traceback)", err=True)
        sys.exit(1)
