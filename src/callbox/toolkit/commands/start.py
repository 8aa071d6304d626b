"""``callbox start``: serve a project folder locally with live reload (``twilio-run start``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from callbox import __version__
from callbox.builds.dependencies import DependencyError
from callbox.config import Config
from callbox.toolkit.devserver import DevConsole
from callbox.toolkit.errors import ProjectError
from callbox.toolkit.options import BaseFlags, base_options
from callbox.toolkit.project import Layout, project_language
from callbox.toolkit.session import configure, env_file


@click.command()
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@base_options
@click.option(
    "--port",
    "-p",
    type=int,
    default=None,
    envvar="PORT",
    help="Port to listen on (default 3000, or $PORT).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--functions-folder", default=None, help="Folder of functions (default functions/).")
@click.option("--assets-folder", default=None, help="Folder of assets (default assets/).")
@click.option("--logs/--no-logs", default=True, help="Print a line per request (default) or not.")
@click.option(
    "-f",
    "--load-local-env",
    is_flag=True,
    help="Give functions this shell's environment variables too (.env values win).",
)
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Serve protected functions and assets without checking X-Twilio-Signature "
    "when no AUTH_TOKEN is set (local development only).",
)
@click.option(
    "--execution-timeout", type=float, default=None, help="Execution limit in seconds (default 10)."
)
@click.option(
    "--inspect",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[HOST:PORT]",
    help="Let a debugger attach: Python over the Debug Adapter Protocol (debugpy, default "
    "127.0.0.1:5678), JavaScript with node --inspect (default 127.0.0.1:9229).",
)
@click.option(
    "--inspect-brk",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[HOST:PORT]",
    help="As --inspect, and functions run only once a debugger is attached.",
)
@click.pass_context
def start(ctx: click.Context, directory: Path, **_flags: Any) -> None:
    """Serve the project in DIRECTORY (or --cwd) locally; edits apply on the next request.

    Flags may also come from the config file (top level or commands.start); .env is read from
    the project folder (--env names another file there).

    \b
    Examples:
      callbox start                    # the project in this folder, on port 3000
      callbox start my-project --port 8000 --env .env.dev
      callbox start --no-logs -l warn  # only the functions' warnings and errors
      callbox start --inspect          # attach VS Code (Python: debugpy, port 5678)
    """
    flags = configure(ctx, "start", StartFlags, directory).flags
    # --cwd (flag or config) beats DIRECTORY, as in Twilio's toolkit (case 71).
    root = Path(flags.cwd or flags.directory).resolve()
    serve_project(root, env_file(root, flags.env), flags)


@dataclass(frozen=True)
class StartFlags(BaseFlags):
    directory: Path = Path(".")
    port: int | None = None  # None: 3000
    host: str = "127.0.0.1"
    functions_folder: str | None = None
    assets_folder: str | None = None
    logs: bool = True  # a line per request
    load_local_env: bool = False
    allow_unsigned: bool = False
    execution_timeout: float | None = None
    inspect: str | None = None  # "" (the flag alone): the language's default address
    inspect_brk: str | None = None


# With a debugger attached the execution limit is an hour unless --execution-timeout says.
INSPECT_TIMEOUT = 3600.0
_DEFAULT_PORTS = {"js": 9229, "python": 5678}


def _inspect_address(flags: StartFlags, root: Path) -> str:
    """HOST:PORT of --inspect / --inspect-brk ("" when neither was given)."""
    given = flags.inspect_brk if flags.inspect_brk is not None else flags.inspect
    if given is None:
        return ""
    if given:
        host, colon, port = str(given).rpartition(":")
        if not port.isdigit():
            raise click.BadParameter(
                f"expected HOST:PORT or PORT; found {given!r}", param_hint="--inspect"
            )
        return f"{host or '127.0.0.1'}:{port}" if colon else f"127.0.0.1:{port}"
    try:
        language = project_language(Layout.find(root, flags.functions_folder, None))
    except ProjectError:
        language = None
    return f"127.0.0.1:{_DEFAULT_PORTS.get(language or 'python', 5678)}"


def serve_project(root: Path, env_path: Path, flags: StartFlags) -> None:
    import uvicorn

    from callbox.listener import ListenError, listen, uvicorn_settings
    from callbox.sandbox.policy import SandboxUnavailable
    from callbox.toolkit.devserver import DevServer, route_listing

    allow_unsigned = bool(flags.allow_unsigned)
    host = str(flags.host or "127.0.0.1")
    console = DevConsole(str(flags.log_level or "info"), bool(flags.logs))
    base_variables = dict(os.environ) if flags.load_local_env else None
    inspect = _inspect_address(flags, root)
    execution_timeout = flags.execution_timeout
    if inspect and execution_timeout is None:
        execution_timeout = INSPECT_TIMEOUT  # a paused breakpoint must not time out
    config = Config.load(
        debug_errors=True,
        skip_signature_check=allow_unsigned,
        execution_timeout=execution_timeout,
        inspect=inspect or None,
        inspect_wait=flags.inspect_brk is not None,
        max_workers=1 if inspect else None,  # one worker: the one the debugger is attached to
    )
    port = 3000 if flags.port is None else flags.port
    try:
        server = DevServer(
            config,
            lambda: Layout.find(root, flags.functions_folder, flags.assets_folder),
            env_path,
            console,
            base_variables,
            own_ports=[port],
        )
        deployment = server.source.load()
        server.supervisor.prepare()
    except (ProjectError, DependencyError, SandboxUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    base_url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    console.say(f"callbox {__version__} serving {root}")
    sandbox = server.supervisor.sandbox
    if sandbox.mode != "isolated":
        missing = [name for name, enforced, _ in sandbox.report() if not enforced]
        console.say(
            f"Sandbox: {sandbox.mode} ({sandbox.weaker_because}); not enforced: "
            f"{', '.join(missing)}."
        )
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
    try:
        settings = uvicorn_settings(server, config, lane=server)
        sock = listen(host, port)
    except ListenError as exc:
        raise click.ClickException(str(exc)) from None
    console.say(f"Listening on {base_url} (Ctrl+C to stop)")
    uvicorn.Server(settings).run(sockets=[sock])
