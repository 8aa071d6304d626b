"""``callbox promote`` (alias ``activate``): put a build live on an environment — the build of
another environment (``--source-environment``) or a given one (``--build-sid``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from callbox.toolkit.errors import ApiError
from callbox.toolkit.options import (
    ApiFlags,
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.session import Session, open_session
from callbox.toolkit.urls import logs_hint


@click.command()
@api_options
@service_sid_option
@environment_options
@click.option(
    "--build-sid", "--from-build", "build_sid", default=None, help="The build to activate (ZB...)."
)
@click.option(
    "--source-environment",
    "--from",
    "source_environment",
    default=None,
    help="Activate the build this environment runs (a domain suffix or ZE...; '' for production).",
)
@click.option(
    "--create-environment", is_flag=True, default=False, help="Create the target if missing."
)
@click.option("--force", is_flag=True, default=False, help="Same as --create-environment.")
@output_option
@click.pass_context
def promote(ctx: click.Context, **_flags: Any) -> None:
    """Activate a build on an environment, e.g. what runs on dev, in production.

    Variables from the .env file (--env) are set on the target first; none are removed.

    \b
    Examples:
      callbox promote --source-environment dev --production
      callbox promote --from dev --to stage --create-environment
      callbox activate --build-sid ZB0123... --environment stage
    """
    with open_session(ctx, "promote", PromoteFlags) as session:
        _promote(session)


@dataclass(frozen=True)
class PromoteFlags(ApiFlags):
    build_sid: str | None = None
    source_environment: str | None = None  # '' is production
    create_environment: bool = False
    force: bool = False


def _promote(session: Session[PromoteFlags]) -> None:
    flags = session.flags
    service = str(session.service())
    client = session.client
    target = client.find_environment(service, session.environment)
    if target is None:
        if not (flags.create_environment or flags.force):
            name = f'"{session.environment}"' if session.environment else "production"
            raise click.ClickException(
                f"Could not find environment {name} in service {service}: pass "
                "--create-environment to create it, or check --environment."
            )
        target = client.create_environment(service, session.environment)
    build_sid = flags.build_sid
    source = flags.source_environment
    if not build_sid:
        if source is None:
            raise click.ClickException(
                "You need to specify either a build SID (--build-sid) or source environment "
                "(--source-environment) to activate."
            )
        found = client.find_environment(service, source)
        build_sid = found.get("build_sid") if found else None
        if not build_sid:
            where = f'"{source}"' if source else "production"
            raise click.ClickException(
                f"Could not determine build SID: environment {where} "
                + ("does not exist" if found is None else "has no deployment yet")
                + f" in service {service}."
            )
    variables = session.uploadable_env()
    if variables:
        client.set_variables(service, target["sid"], variables, source=session.env_file)
    try:
        deployment = client.activate(service, target["sid"], build_sid)
    except ApiError as exc:
        if exc.code == 20409:
            raise click.ClickException(
                f"{exc} (is build {build_sid} still building, or already live?)"
            ) from None
        raise
    url = session.domain_url(target["domain_name"])
    if session.printer.json:
        session.printer.emit_json(
            {
                "serviceSid": target["service_sid"],
                "environmentSid": target["sid"],
                "environmentSuffix": target.get("domain_suffix") or "",
                "buildSid": build_sid,
                "deploymentSid": deployment["sid"],
                "domain": target["domain_name"],
                "url": url,
            }
        )
        return
    logs = logs_hint(target["service_sid"], target.get("domain_suffix"))
    session.printer.note(f"Build {build_sid} is active on {target['unique_name']}.")
    session.printer.note(f"Active build available at:\n   {url}")
    session.printer.note(f"View Live Logs:\n   {logs}")
