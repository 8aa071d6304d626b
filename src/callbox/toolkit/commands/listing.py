"""``callbox list`` (alias ``ls``): what the server holds for a service — its services,
environments, builds, the functions and assets an environment runs, and its variables.

Twilio's toolkit drops a type whose listing fails without a word; here each failure is one
warning line on stderr, the other types are still printed, and the exit code is 1.
"""

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
from callbox.toolkit.urls import by_access, reached_at

TYPES = ("services", "environments", "builds", "functions", "assets", "variables")

# Columns per type: (default, --extended-output).
COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    "services": (
        ["sid", "unique_name", "date_created"],
        ["sid", "unique_name", "friendly_name", "include_credentials", "ui_editable"]
        + ["date_created", "date_updated"],
    ),
    "environments": (
        ["sid", "unique_name", "domain_name", "build_sid"],
        ["sid", "unique_name", "domain_suffix", "domain_name", "build_sid"]
        + ["date_created", "date_updated"],
    ),
    "builds": (
        ["sid", "status", "date_created"],
        ["sid", "status", "runtime", "functions", "assets", "date_created", "date_updated"],
    ),
    "functions": (
        ["path", "visibility", "url"],
        ["sid", "function_sid", "path", "visibility", "url", "date_created"],
    ),
    "assets": (
        ["path", "visibility", "url"],
        ["sid", "asset_sid", "path", "visibility", "url", "date_created"],
    ),
    "variables": (
        ["key", "value"],
        ["sid", "key", "value", "date_created", "date_updated"],
    ),
}


def parse_types(value: str | list[str] | None) -> list[str]:
    """``"environments, functions"`` -> ``["environments", "functions"]`` (default: services)."""
    if isinstance(value, list):
        value = ",".join(value)
    types = [t.strip() for t in (value or "").split(",") if t.strip()] or ["services"]
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise click.ClickException(
            f"Unknown type(s) to list: {', '.join(unknown)}. Valid types: {', '.join(TYPES)} "
            "(comma-separated, e.g. `callbox list environments,functions`)."
        )
    return list(dict.fromkeys(types))


@click.command("list")
@click.argument("types", required=False, default="services")
@api_options
@click.option("-n", "--service-name", default=None, help="The service, by unique name.")
@service_sid_option
@environment_options
@click.option("--extended-output", is_flag=True, default=False, help="Show more columns per type.")
@click.option(
    "--properties", default=None, help="Comma-separated columns to show, e.g. sid,unique_name."
)
@output_option
@click.pass_context
def list_command(ctx: click.Context, **_flags: Any) -> None:
    """List TYPES (comma-separated): services (default), environments, builds, functions,
    assets, variables.

    Functions and assets are those of the build active on the environment (--environment,
    default dev, or --production); variables are the environment's, with their values.

    \b
    Examples:
      callbox list                                  # the account's services
      callbox ls environments,builds --service-sid ZS0123...
      callbox list functions,assets --production
      callbox list variables --environment stage -o json
      callbox list services --properties sid,friendly_name
    """
    with open_session(ctx, "list", ListFlags) as session:
        _list(session, parse_types(session.flags.types))


@dataclass(frozen=True)
class ListFlags(ApiFlags):
    types: str | list[str] | None = None  # a list, from the config file
    extended_output: bool = False
    properties: str | list[str] | None = None


class _Lister:
    """Fetches each type's rows; the environment is looked up once, when first needed."""

    def __init__(self, session: Session, service: str | None) -> None:
        self.session = session
        self.service = service
        self._environment: dict[str, Any] | None = None

    def environment(self) -> dict[str, Any]:
        if self._environment is None:
            self._environment = self.session.find_environment(str(self.service))
        return self._environment

    def rows(self, kind: str) -> list[dict[str, Any]]:
        client = self.session.client
        if kind == "services":
            return client.services()
        service = str(self.service)
        if kind == "environments":
            return client.environments(service)
        if kind == "builds":
            return client.builds(service)
        environment = self.environment()
        if kind == "variables":
            return client.variables(service, environment["sid"])
        return self._versions(kind, environment)

    def _versions(self, kind: str, environment: dict[str, Any]) -> list[dict[str, Any]]:
        build_sid = environment.get("build_sid")
        if not build_sid:
            return []  # nothing deployed on this environment yet
        build = self.session.client.build(str(self.service), build_sid)
        base_url = self.session.domain_url(environment["domain_name"])
        single = kind[:-1]  # function, asset
        found = []
        for version in build.get(f"{single}_versions", []):
            url = reached_at(base_url, single, str(version["path"]), str(version["visibility"]))
            found.append({**version, "url": url})
        return by_access(found)  # the order of the deploy summary (Twilio's)


def _list(session: Session[ListFlags], types: list[str]) -> None:
    needs_service = any(t != "services" for t in types)
    service = session.service() if needs_service else None
    lister = _Lister(session, service)
    results: dict[str, list[dict[str, Any]]] = {}
    failed: list[str] = []
    for kind in types:
        try:
            results[kind] = lister.rows(kind)
        except (ApiError, click.ClickException) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            if isinstance(exc, ApiError) and (exc.status == 401 or not exc.from_the_api):
                raise  # unreachable or refused: every other type would fail the same way
            click.echo(f"WARNING Could not list {kind}: {message}", err=True)
            failed.append(kind)
    properties = _properties(session.flags.properties)
    if session.printer.json:
        session.printer.emit_json({kind: _only(rows, properties) for kind, rows in results.items()})
    else:
        _print_tables(session, lister, results, properties)
    if failed:
        raise click.ClickException(
            f"Could not list {', '.join(failed)} (see the warning above); "
            f"{'the other types were' if results else 'nothing was'} listed."
        )


def _properties(value: Any) -> list[str] | None:
    if not value:
        return None
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    names = [p.strip() for p in str(value).split(",") if p.strip()]
    return names or None


def _only(rows: list[dict[str, Any]], properties: list[str] | None) -> list[dict[str, Any]]:
    if properties is None:
        return rows
    return [{name: row.get(name) for name in properties} for row in rows]


def _print_tables(
    session: Session[ListFlags],
    lister: _Lister,
    results: dict[str, list[dict[str, Any]]],
    properties: list[str] | None,
) -> None:
    printer = session.printer
    extended = bool(session.flags.extended_output)
    for number, (kind, rows) in enumerate(results.items()):
        if number:
            printer.out()
        printer.out(_title(kind, lister))
        if not rows:
            printer.out("  (none)")
            continue
        columns = properties or COLUMNS[kind][1 if extended else 0]
        if kind == "builds":
            rows = [
                {
                    **b,
                    "functions": len(b.get("function_versions", [])),
                    "assets": len(b.get("asset_versions", [])),
                }
                for b in rows
            ]
        printer.table(rows, columns)


def _title(kind: str, lister: _Lister) -> str:
    if kind == "services":
        return "Services:"
    if kind in ("environments", "builds"):
        return f"{kind.capitalize()} of service {lister.service}:"
    environment = lister.environment()
    where = f"environment {environment['unique_name']} ({environment['sid']})"
    if kind == "variables":
        return f"Variables of {where}:"
    build = environment.get("build_sid") or "no active build"
    return f"{kind.capitalize()} of {where}, build {build}:"
