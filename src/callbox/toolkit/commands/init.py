"""``callbox init``: a new project from the scaffold, as Twilio's ``init`` makes one: Python, or
JavaScript in the layout of ``twilio serverless:init``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from callbox.toolkit.errors import InitError
from callbox.toolkit.project import LANGUAGE_NAMES, Language
from callbox.toolkit.scaffolding import init_project


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
@click.option(
    "--template",
    default=None,
    help="Add this template (see list-templates); js/ID or python/ID also names the language.",
)
@click.option(
    "--language",
    type=click.Choice(["js", "python"]),
    default=None,
    help="js: Twilio's JavaScript layout (package.json, functions/*.js). Default: python.",
)
@click.option("--empty", is_flag=True, help="No example functions or assets.")
def init(
    name: str,
    parent: Path,
    account_sid: str | None,
    auth_token: str | None,
    import_credentials: bool,
    template: str | None,
    language: Language | None,
    empty: bool,
) -> None:
    """Create a new project NAME with example functions and assets.

    A Python project by default; with --language js (or a js/ID template) a JavaScript one,
    laid out as Twilio's `twilio serverless:init` makes it.

    \b
    Examples:
      callbox init my-project && callbox start my-project
      callbox init my-project --account-sid AC0123... --auth-token 0123...
      callbox init bot --template hello-messaging --empty
      callbox init web --language js             # functions/*.js, package.json
      callbox init bot --template js/hello-messaging --empty
    """
    from callbox.toolkit.errors import TemplateError
    from callbox.toolkit.templating import create_from_template, get_template, split_id

    if import_credentials:
        account_sid = account_sid or os.environ.get("TWILIO_ACCOUNT_SID")
        auth_token = auth_token or os.environ.get("TWILIO_AUTH_TOKEN")
        if not (account_sid and auth_token):
            raise click.ClickException(
                "--import-credentials needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the "
                "environment; set them, or pass --account-sid and --auth-token."
            )
    named = split_id(template)[0] if template else None
    if language and named and named != language:
        raise click.ClickException(
            f"--template {template} is the {LANGUAGE_NAMES[named]} version, and --language "
            f"{language} asks for {LANGUAGE_NAMES[language]}: give one of them."
        )
    chosen_language: Language = language or named or "python"
    try:
        chosen = get_template(template, language=chosen_language) if template else None
        root = init_project(
            name,
            parent,
            account_sid=account_sid,
            auth_token=auth_token,
            empty=empty,
            language=chosen_language,
        )
        if chosen is not None:
            create_from_template(chosen, chosen.id, root)
    except (InitError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {root}")
    click.echo(f"Next: callbox start {root}")
