"""``callbox deploy``: the project folder to an environment of the server, as Twilio's
``twilio serverless:deploy`` does it (flags, config scopes, output and .twiliodeployinfo)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from callbox.rules import DEFAULT_PYTHON_RUNTIME, NODE_RUNTIMES, PYTHON_RUNTIMES
from callbox.toolkit import deployinfo, packagejson
from callbox.toolkit.deployer import (
    Deployed,
    DeployRequest,
    dependencies_source,
    deploy_project,
    read_dependencies,
    service_name_from,
)
from callbox.toolkit.options import (
    ApiFlags,
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.project import (
    LANGUAGE_NAMES,
    Language,
    Layout,
    discover,
    project_language,
)
from callbox.toolkit.session import Session, open_session
from callbox.toolkit.urls import by_access, logs_hint, reached_at
from callbox.toolkit.variables import check_variables


def _either(names: tuple[str, ...]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}"


@click.command()
@api_options
@service_sid_option
@environment_options
@click.option("-n", "--service-name", default=None, help="Name of the service to create.")
@click.option("--project-name", default=None, hidden=True, help="Deprecated: --service-name.")
@click.option("--functions-env", default=None, hidden=True, help="Deprecated: --environment.")
@click.option(
    "--override-existing-project",
    is_flag=True,
    default=False,
    help="Deploy to the service of that name even if this project did not create it.",
)
@click.option("--force", is_flag=True, default=False, help="Same as --override-existing-project.")
@click.option("--functions/--no-functions", default=True, help="Deploy the functions (default).")
@click.option("--assets/--no-assets", default=True, help="Deploy the assets (default).")
@click.option("--functions-folder", default=None, help="Functions folder (default functions/).")
@click.option("--assets-folder", default=None, help="Assets folder (default assets/).")
@click.option(
    "--runtime",
    default=None,
    help=f"{_either(NODE_RUNTIMES)} for JavaScript; {_either(PYTHON_RUNTIMES)} for Python. "
    "Default: the server's newest Node.js for a JavaScript project, "
    f"{DEFAULT_PYTHON_RUNTIME} for a Python one.",
)
@output_option
@click.pass_context
def deploy(ctx: click.Context, **_flags: Any) -> None:
    """Deploy the project: upload changed functions and assets, build, activate.

    The service is --service-sid, serviceSid in the config, the one .twiliodeployinfo names,
    or a new one named --service-name / "name" in package.json or [project].name in
    pyproject.toml / the folder's name. Variables from .env are set on the environment (never
    ACCOUNT_SID or AUTH_TOKEN). A project is JavaScript (functions/*.js, package.json's
    dependencies) or Python (functions/*.py, requirements.txt), never both.

    \b
    Examples:
      callbox deploy                         # to the dev environment
      callbox deploy --environment stage     # to <service>-1234-stage.<domain>
      callbox deploy --production -o json    # to production, the result as JSON
      callbox deploy -n my-service --override-existing-project --env .env.prod
      callbox deploy --runtime node20        # a JavaScript project on Node.js 20
    """
    with open_session(ctx, "deploy", DeployFlags) as session:
        _deploy(session)


@dataclass(frozen=True)
class DeployFlags(ApiFlags):
    project_name: str | None = None  # deprecated: --service-name
    functions_env: str | None = None  # deprecated: --environment
    override_existing_project: bool = False
    force: bool = False
    functions: bool = True
    assets: bool = True
    functions_folder: str | None = None
    assets_folder: str | None = None
    runtime: str | None = None


def _deploy(session: Session[DeployFlags]) -> None:
    flags = session.flags
    if flags.project_name:
        session.printer.warn("--project-name is deprecated; use --service-name.")
    if flags.functions_env:
        session.printer.warn("--functions-env is deprecated; use --environment.")
        if flags.environment == "dev":  # the deprecated spelling, when alone
            flags = session.flags = replace(flags, environment=flags.functions_env)
    layout = Layout.find(session.root, flags.functions_folder, flags.assets_folder)
    language = project_language(layout)  # functions of both languages stop the deploy here
    variables = session.uploadable_env()
    check_variables(variables, session.env_file)
    info = session.deployed_service()
    service_sid = flags.service_sid or (info.service_sid if info else None)
    service_name = None if service_sid else _service_name(session, language)
    if service_sid and "service_name" in session.given and not flags.service_sid:
        session.printer.warn(
            f"--service-name {flags.service_name} is not used: this project deploys to "
            f"{service_sid} (.twiliodeployinfo). Pass --service-sid, or delete the file, to "
            "deploy elsewhere."
        )
    printer = session.printer
    _print_plan(session, layout, language, service_sid, service_name, variables)

    warned: list[bool] = []

    def remember(service: str, build: str = "") -> None:
        # As soon as the service exists, and again with the build: when a later step fails,
        # the next deploy finds the service this one created.
        account = session.account_sid
        if account and not deployinfo.record(session.root, account, session.region, service, build):
            if not warned:
                printer.warn(f"{deployinfo.FILE_NAME} is not valid and was left as it is.")
            warned.append(True)

    result = deploy_project(
        session.client,
        DeployRequest(
            layout,
            service_sid=service_sid,
            service_name=service_name,
            environment=session.environment,
            runtime=flags.runtime,
            variables=variables,
            override_existing=bool(flags.override_existing_project or flags.force),
            previous_build=(
                info.latest_build or None if info and info.service_sid == service_sid else None
            ),
            functions=bool(flags.functions),
            assets=bool(flags.assets),
        ),
        printer,
        on_build=remember,
        on_service=remember,
    )
    summary = summarize(session, result)
    if printer.json:
        printer.emit_json(summary)
        return
    printer.info(
        f"Serverless project successfully deployed ({result.uploaded} uploaded, "
        f"{result.reused} unchanged)"
    )
    _print_summary(session, summary)


def _service_name(session: Session[DeployFlags], language: Language | None = None) -> str:
    explicit = session.flags.service_name or session.flags.project_name
    if explicit:
        return str(explicit)  # as given: the server says what is wrong with a bad name
    root = session.root
    named = [packagejson.name(root), _pyproject_name(root)]
    if language == "python":  # a Python project's package.json may be a web page's tooling
        named.reverse()
    return _as_unique_name(next((n for n in named if n), None) or root.name)


def _pyproject_name(root: Path) -> str | None:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return name if isinstance(name, str) else None


def _as_unique_name(name: str) -> str:
    cleaned = service_name_from(name)
    if not cleaned:
        raise click.ClickException(
            f'Cannot make a service name out of "{name}": pass --service-name (letters, digits '
            "and dashes)."
        )
    return cleaned


def _print_plan(
    session: Session[DeployFlags],
    layout: Layout,
    language: Language | None,
    service_sid: str | None,
    service_name: str | None,
    variables: dict[str, str],
) -> None:
    printer = session.printer
    if not printer.chatty:
        return
    password = session.credentials.password
    names = [d["name"] for d in read_dependencies(layout, language)]
    dependencies = f"{', '.join(names)} ({dependencies_source(language)})" if names else "none"
    runtime = session.flags.runtime
    if not runtime:
        functions = any(route.kind == "function" for route in discover(layout).values())
        javascript = language == "js" and functions
        runtime = "default (the server's newest Node.js)" if javascript else "default"
    kind = f" ({LANGUAGE_NAMES[language]})" if language else ""
    lines = [
        "Deploying functions & assets to callbox",
        f"  Server          {session.credentials.url}",
        f"  Username        {session.credentials.username}",
        f"  Password        {password[:4]}{'*' * max(len(password) - 4, 0)}",
        f"  Service         {service_sid or service_name}",
        f"  Environment     {session.environment or 'production'}",
        f"  Root Directory  {session.root}{kind}",
        f"  Dependencies    {dependencies}",
        f"  Env Variables   {', '.join(variables) or 'none'}",
        f"  Runtime         {runtime}",
    ]
    printer.info("\n".join(lines))


def summarize(session: Session, result: Deployed) -> dict[str, Any]:
    """The deploy's outcome in the shape of Twilio's ``deploy -o json``."""
    base = session.domain_url(result.domain)
    functions: list[dict[str, str]] = []
    assets: list[dict[str, str]] = []
    for route in result.routes:
        url = reached_at(base, route.kind, route.path, route.visibility)
        entry = {"access": route.visibility, "path": route.path, "url": url}
        (functions if route.kind == "function" else assets).append(entry)
    suffix = result.environment_suffix
    return {
        "domain": result.domain,
        "serviceName": result.service_name,
        "serviceSid": result.service_sid,
        "environmentSuffix": suffix,
        "environmentSid": result.environment_sid,
        "buildSid": result.build_sid,
        "runtime": result.runtime,
        "viewLiveLogs": logs_hint(result.service_sid, suffix),
        "functions": by_access(functions, "access"),
        "assets": by_access(assets, "access"),
    }


def _print_summary(session: Session, summary: dict[str, Any]) -> None:
    out = session.printer.out
    out("Deployment Details")
    out(f"Domain: {summary['domain']}")
    out(f"Service:\n   {summary['serviceName']} ({summary['serviceSid']})")
    suffix = summary["environmentSuffix"] or "production"
    out(f"Environment:\n   {suffix} ({summary['environmentSid']})")
    out(f"Build SID:\n   {summary['buildSid']}")
    out(f"Runtime:\n   {summary['runtime']}")
    out(f"View Live Logs:\n   {summary['viewLiveLogs']}")
    for title in ("functions", "assets"):
        if summary[title]:
            out(f"{title.capitalize()}:")
            for entry in summary[title]:
                out(f"   [{entry['access']}] {entry['url']}")
