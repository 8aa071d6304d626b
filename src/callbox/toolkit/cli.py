"""The ``callbox`` command line: init, start; serve, accounts, keys (toolkit/admin.py)."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from callbox import __version__
from callbox.builds.dependencies import DependencyError
from callbox.config import Config
from callbox.toolkit.admin import accounts, keys, listen, serve, uvicorn_settings
from callbox.toolkit.client import ApiError
from callbox.toolkit.commands.assets import assets
from callbox.toolkit.commands.deploy import deploy
from callbox.toolkit.commands.env import env
from callbox.toolkit.commands.listing import list_command
from callbox.toolkit.commands.logs import logs
from callbox.toolkit.commands.profiles import login, profiles
from callbox.toolkit.commands.promote import promote
from callbox.toolkit.commands.templates import list_templates, new
from callbox.toolkit.credentials import CredentialsError
from callbox.toolkit.deploy import DeployError
from callbox.toolkit.init import InitError, init_project
from callbox.toolkit.project import Layout, ProjectError
from callbox.toolkit.rcfile import RcError


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


@cli.command()
@click.argument("name")
@click.option(
    "--path",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the project in.",
)
@click.option("-a", "--account-sid", default=None, help="ACCOUNT_SID to write into .env.")
@click.option("-t", "--auth-token", default=None, help="AUTH_TOKEN to write into .env.")
@click.option(
    "--import-credentials",
    is_flag=True,
    help="Write TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN from this shell into .env.",
)
@click.option("--template", default=None, help="Add this template (see list-templates).")
@click.option("--empty", is_flag=True, help="No example functions or assets.")
def init(
    name: str,
    parent: Path,
    account_sid: str | None,
    auth_token: str | None,
    import_credentials: bool,
    template: str | None,
    empty: bool,
) -> None:
    """Create a new project NAME with example functions and assets.

    \b
    Examples:
      callbox init my-project && callbox start my-project
      callbox init my-project --account-sid AC0123... --auth-token 0123...
      callbox init bot --template hello-messaging --empty
    """
    from callbox.toolkit.templating import TemplateError, create_from_template, get_template

    if import_credentials:
        account_sid = account_sid or os.environ.get("TWILIO_ACCOUNT_SID")
        auth_token = auth_token or os.environ.get("TWILIO_AUTH_TOKEN")
        if not (account_sid and auth_token):
            raise click.ClickException(
                "--import-credentials needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the "
                "environment; set them, or pass --account-sid and --auth-token."
            )
    try:
        chosen = get_template(template) if template else None
        root = init_project(
            name, parent, account_sid=account_sid, auth_token=auth_token, empty=empty
        )
        if chosen is not None:
            create_from_template(chosen, chosen.id, root)
    except (InitError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {root}")
    click.echo(f"Next: callbox start {root}")


@cli.command()
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--port",
    "-p",
    type=int,
    default=None,
    envvar="PORT",
    help="Port to listen on (default 3000, or $PORT).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--env",
    "env_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The .env file with the functions' variables (default: DIRECTORY/.env).",
)
@click.option("--functions-folder", default=None, help="Folder of functions (default functions/).")
@click.option("--assets-folder", default=None, help="Folder of assets (default assets/).")
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Serve protected functions and assets without checking X-Twilio-Signature "
    "when no AUTH_TOKEN is set (local development only).",
)
@click.option(
    "--execution-timeout", type=float, default=None, help="Execution limit in seconds (default 10)."
)
def start(
    directory: Path,
    port: int | None,
    host: str,
    env_file: Path | None,
    functions_folder: str | None,
    assets_folder: str | None,
    allow_unsigned: bool,
    execution_timeout: float | None,
) -> None:
    """Serve the project in DIRECTORY locally; edits apply on the next request.

    \b
    Examples:
      callbox start                    # the project in this folder, on port 3000
      callbox start my-project --port 8000 --env my-project/.env.dev
    """
    import uvicorn

    from callbox.toolkit.start import DevConsole, DevServer, route_listing

    root = directory.resolve()
    env_path = (env_file or root / ".env").resolve()
    if env_file is not None and not env_path.is_file():
        raise click.ClickException(f'Failed to find .env file at "{env_path}"')
    config = Config.load(
        debug_errors=True,
        skip_signature_check=allow_unsigned,
        execution_timeout=execution_timeout,
    )
    console = DevConsole()
    try:
        server = DevServer(
            config,
            lambda: Layout.find(root, functions_folder, assets_folder),
            env_path,
            console,
        )
        deployment = server.source.load()
    except (ProjectError, DependencyError) as exc:
        raise click.ClickException(str(exc)) from None
    port = 3000 if port is None else port
    base_url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    console.say(f"callbox {__version__} serving {directory.absolute()}")
    for line in route_listing(deployment, base_url):
        console.say(line)
    if deployment.auth_token is None:
        if allow_unsigned:
            console.say(
                "No AUTH_TOKEN is set: protected resources are served WITHOUT signature "
                "checks (--allow-unsigned)."
            )
        else:
            console.say(
                "No AUTH_TOKEN is set: protected resources answer 403. Set AUTH_TOKEN in "
                ".env, or pass --allow-unsigned to skip the check locally."
            )
    sock = listen(host, port)
    console.say(f"Listening on {base_url} (Ctrl+C to stop)")
    uvicorn.Server(uvicorn_settings(server)).run(sockets=[sock])


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
