"""``callbox twilio-proxy``: let Twilio's own toolkit (twilio-run) deploy to a callbox server,
unchanged (the proxy itself: toolkit/proxy.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click


@click.command("twilio-proxy")
@click.option(
    "--url",
    envvar="CALLBOX_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The callbox server to send Twilio's toolkit to (env CALLBOX_URL).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    envvar="CALLBOX_TWILIO_PROXY_PORT",
    type=click.IntRange(0, 65535),
    default=8089,
    show_default=True,
    help="Port to listen on; 0 picks a free one (env CALLBOX_TWILIO_PROXY_PORT).",
)
@click.option(
    "--ca-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the proxy's certificate authority is kept. Default: "
    "~/.config/callbox/twilio-proxy (CALLBOX_CONFIG_DIR/twilio-proxy).",
)
def twilio_proxy(url: str, host: str, port: int, ca_dir: Path | None) -> None:
    """Forward Twilio's toolkit (twilio-run) to a callbox server.

    twilio-run sends its API calls to serverless.twilio.com over HTTPS and honours
    HTTP_PROXY; run it with HTTP_PROXY pointing here and NODE_EXTRA_CA_CERTS naming this
    proxy's certificate authority (it can vouch only for twilio.com names), and its deploy,
    list, logs, env and promote commands reach callbox instead. Credentials are callbox's:
    --username/--password, or ACCOUNT_SID/AUTH_TOKEN in the project's .env.

    \b
    Examples:
      callbox twilio-proxy --url http://127.0.0.1:8080
      HTTP_PROXY=http://127.0.0.1:8089 \\
      NODE_EXTRA_CA_CERTS=~/.config/callbox/twilio-proxy/ca.pem \\
        npx twilio-run deploy --username AC... --password ...
    """
    from callbox.toolkit import twilio_ca
    from callbox.toolkit.client import server_url
    from callbox.toolkit.credentials import config_dir
    from callbox.toolkit.errors import ApiError
    from callbox.toolkit.proxy import TwilioProxy

    try:
        target = server_url(url)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None
    authority = twilio_ca.load_or_create(ca_dir or config_dir() / "twilio-proxy")
    try:
        proxy = TwilioProxy((host, port), target, authority, log=click.echo)
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port."
        ) from None
    listening = f"http://{host}:{proxy.server_address[1]}"
    ca = shlex.quote(str(authority.cert_file))
    click.echo(f"Forwarding Twilio's Serverless API to {target}.")
    click.echo(f"Listening on {listening} (Ctrl+C to stop). Run Twilio's toolkit with:")
    click.echo(f"  HTTP_PROXY={listening} NODE_EXTRA_CA_CERTS={ca} npx twilio-run deploy")
    try:
        proxy.serve_forever()
    finally:
        proxy.server_close()
