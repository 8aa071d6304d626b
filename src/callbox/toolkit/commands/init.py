"""``callbox init``: a new project from the scaffold, as Twilio's ``init`` makes one."""

from __future__ import annotations

import os
from pathlib import Path

import click

from callbox.toolkit.init import InitError, init_project


@click.command()
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
