"""``callbox serve``: the callbox server (the Serverless API and every deployed environment)
on one port, from a data folder of this machine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from callbox import __version__
from callbox.config import Config
from callbox.toolkit.options import data_option

if TYPE_CHECKING:
    from callbox.sandbox.policy import Sandbox


def _stopping_server_class() -> type:
    import uvicorn

    class Stopping(uvicorn.Server):
        """uvicorn waits for open connections before the app's shutdown; live log streams
        never end by themselves, so they are ended as soon as the stop signal arrives."""

        def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
            super().__init__(config)
            self.on_stop = on_stop

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            try:  # a signal handler: hand the work to the loop rather than doing it here
                asyncio.get_running_loop().call_soon_threadsafe(self.on_stop)
            except RuntimeError:
                self.on_stop()

    return Stopping


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, envvar="CALLBOX_HOST", help="Address to bind."
)
@click.option("--port", "-p", type=int, default=8080, show_default=True, envvar="PORT")
@data_option
@click.option(
    "--base-domain",
    default=None,
    envvar="CALLBOX_BASE_DOMAIN",
    help="Environments are served at <service>-<digits>[-<suffix>].<base-domain> "
    "(default localhost).",
)
@click.option(
    "--database",
    "database_url",
    default=None,
    envvar="CALLBOX_DATABASE_URL",
    help="SQLAlchemy database URL (default: SQLite in the data folder).",
)
@click.option(
    "--deploy",
    "deploy_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Once listening, deploy this project folder as the owner account (repeatable).",
)
@click.option(
    "--check-sandbox",
    is_flag=True,
    help="Print which protections this machine lets the sandbox enforce, then exit.",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="CALLBOX_SSL_CERTFILE",
    help="Speak HTTPS with this PEM certificate (chain) file.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="CALLBOX_SSL_KEYFILE",
    help="The certificate's PEM private key (default: in the certificate file).",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    base_domain: str | None,
    database_url: str | None,
    deploy_dirs: tuple[Path, ...],
    check_sandbox: bool,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Run the callbox server: the Serverless API and every deployed environment, on one port.

    \b
    Examples:
      callbox serve                                  # http://127.0.0.1:8080
      callbox serve --data /srv/callbox --port 80 --base-domain functions.example.com
      callbox serve --deploy examples/quickstart     # and deploy a project once up
      callbox serve --port 443 --ssl-certfile cert.pem --ssl-keyfile key.pem   # HTTPS
    """

    from callbox.listener import ListenError, listen, uvicorn_settings
    from callbox.sandbox.policy import SandboxUnavailable
    from callbox.server import create_server

    config = Config.load(
        data_dir=str(data_dir) if data_dir else None,
        base_domain=base_domain,
        database_url=database_url,
    )
    if check_sandbox:
        _check_sandbox(config)
        return
    try:
        sock = listen(host, port)
        actual_port = sock.getsockname()[1]
        server = create_server(config, own_ports=[actual_port])
        created = server.accounts.ensure_owner(config.account_sid, config.auth_token)
        server.supervisor.prepare()
        settings = uvicorn_settings(
            server,
            config,
            certfile=str(ssl_certfile) if ssl_certfile else None,
            keyfile=str(ssl_keyfile) if ssl_keyfile else None,
            lane=server,
        )
    except (ValueError, ListenError, SandboxUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    scheme = "https" if ssl_certfile else "http"
    api_url = f"{scheme}://{'127.0.0.1' if host == '0.0.0.0' else host}:{actual_port}"
    click.echo(f"callbox {__version__} serving the API on {api_url}/v1 (data: {config.data_dir})")
    click.echo(
        f"Environments: {scheme}://<service>-<digits>[-<suffix>].{config.base_domain}:"
        f"{actual_port}/"
    )
    if server.store.shared and server.heartbeat is not None:  # other nodes may share it
        click.echo(f"This node is {server.heartbeat.name} (database: {server.store.describe()})")
    _print_sandbox(server.supervisor.sandbox)
    if created is not None:
        click.echo("Created the owner account. Keep these credentials; they are shown only once:")
        click.echo(f"  ACCOUNT_SID={created[0]}")
        click.echo(f"  AUTH_TOKEN={created[1]}")
    if deploy_dirs:
        from callbox.toolkit.quickdeploy import deploy_in_background

        deploy_in_background(server, api_url, list(deploy_dirs))
    click.echo(f"Listening on {api_url} (Ctrl+C to stop)")
    _stopping_server_class()(settings, server.logbook.end_streams).run(sockets=[sock])


def _print_sandbox(sandbox: Sandbox) -> None:
    from callbox.sandbox.policy import format_report

    rows = sandbox.report()
    missing = [name for name, enforced, _ in rows if not enforced]
    click.echo(f"Sandbox: {sandbox.mode}" + (f" ({sandbox.weaker_because})" if missing else ""))
    click.echo(format_report(rows))
    if missing:
        click.echo(
            f"Warning: not enforced here: {', '.join(missing)}. Deployed functions are not fully "
            "fenced off from this machine; see docs/security.md.",
            err=True,
        )


def _check_sandbox(config: Config) -> None:
    """``serve --check-sandbox``: set the sandbox up as serve would, report, take it down."""
    from callbox.sandbox.policy import Sandbox, SandboxUnavailable

    sandbox = Sandbox(config.sandbox_settings(), hidden=[Path(config.data_dir)])
    try:
        sandbox.start()
    except SandboxUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    try:
        _print_sandbox(sandbox)
    finally:
        sandbox.close()
