"""``callbox assets init | upload | list``: a service used as a bucket of static files, as
Twilio's Assets Plugin (``twilio assets:init``, ``assets:upload``, ``assets:list``) does it.

``init`` creates the service and its production environment and remembers them per user, per
server and account, in ``assets.json`` of the config folder (0600, next to the profiles). Each
``upload`` makes one new asset version, builds it with everything the environment's current
build holds (a version at the same path is replaced) and activates that build.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import string
from pathlib import Path
from typing import Any

import click

from callbox.rules import MAX_SERVICE_NAME, is_service_name
from callbox.toolkit.buckets import Bucket, BucketStore, fetch, fetch_or_fail, require
from callbox.toolkit.errors import ApiError
from callbox.toolkit.options import api_options, output_option
from callbox.toolkit.session import Session, open_session
from callbox.toolkit.urls import reached_at

# Twilio's plugin checks service names with this pattern; the API wants fewer than 50 characters.
RANDOM_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_PROPERTIES = ("sid", "path", "url", "visibility")
PROPERTIES = (
    *DEFAULT_PROPERTIES,
    "date_created",
    "asset_sid",
    "service_sid",
    "account_sid",
    "content_sha256",
)
BUILD_TIMEOUT = 300.0


@click.group()
def assets() -> None:
    """Upload static files (audio for <Play>, images for MMS) to a service used as a bucket.

    `init` creates the service once per server and account; `upload` adds or replaces one
    file and puts it live; `list` shows what is live.

    \b
    Examples:
      callbox assets init --service-name my-assets
      callbox assets upload hold-music.mp3
      callbox assets upload keys.json --private
      callbox assets list --properties sid,url,date_created
    """


@assets.command("init")
@api_options
@click.option(
    "-n",
    "--service-name",
    default=None,
    help="Name of the service; it shows in the domain (default: assets-<5 random characters>).",
)
@click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Create a new service even if one is set up (the old one stays on the server).",
)
@output_option
@click.pass_context
def init_command(ctx: click.Context, service_name: str | None, force: bool, **_flags: Any) -> None:
    """Create the assets service (with a production environment) and remember it.

    Run again, it shows the service already set up; --force makes a new one.

    \b
    Examples:
      callbox assets init
      callbox assets init --service-name my-cool-assets-service -o json
    """
    if service_name is not None:
        check_name(service_name)
    with open_session(ctx, "assets") as session:
        _init(session, service_name, force)


def check_name(name: str) -> None:
    if not is_service_name(name):
        raise click.ClickException(
            f'"{name}" is not a valid service name: use at most {MAX_SERVICE_NAME} letters, '
            "digits and dashes, with no dash at either end or two in a row (e.g. my-assets)."
        )


def _init(session: Session, name: str | None, force: bool) -> None:
    store = BucketStore.of(session)
    stored = store.get()
    if stored is not None and not force:
        found = fetch(session, stored)
        if found is not None:
            service, environment = found
            if name and name != service["unique_name"]:
                raise click.ClickException(
                    f"An assets service is already set up for {session.credentials.url}: "
                    f"{service['unique_name']} ({service['sid']}). Pass --force to create "
                    f'"{name}" and use it instead (the old service stays on the server).'
                )
            session.printer.info(
                "An assets service is already set up; pass --force to create a new one."
            )
            _print_bucket(session, service, environment)
            return
        session.printer.warn(
            f"The assets service {stored.service_sid} stored in {store.path} no longer exists "
            f"on {session.credentials.url}; creating a new one."
        )
    service = _create_service(session, name)
    # Production: the bucket has one environment, and its files get the shortest URLs (no
    # domain suffix) — as Twilio's plugin, which creates the environment with suffix ''.
    environment = session.client.create_environment(service["sid"], "")
    store.put(Bucket(service["sid"], environment["sid"], environment["domain_name"]))
    session.printer.info(f"Created assets service {service['unique_name']} ({service['sid']}).")
    _print_bucket(session, service, environment)


def _create_service(session: Session, name: str | None) -> dict[str, Any]:
    attempts = 1 if name else 5  # a random name that is taken is drawn again
    for _ in range(attempts):
        chosen = name or "assets-" + "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(5))
        created = session.client.create_service(chosen)
        if created is not None:
            return created
    raise click.ClickException(
        f'A service named "{chosen}" already exists for this account: choose another '
        "--service-name."
    )


def _print_bucket(session: Session, service: dict[str, Any], environment: dict[str, Any]) -> None:
    domain = environment["domain_name"]
    printer = session.printer
    if printer.json:
        printer.emit_json(
            {
                "serviceSid": service["sid"],
                "serviceName": service["unique_name"],
                "environmentSid": environment["sid"],
                "domain": domain,
                "url": session.domain_url(domain),
                "buildSid": environment.get("build_sid"),
            }
        )
        return
    printer.out(f"Service:     {service['unique_name']} ({service['sid']})")
    printer.out(f"Environment: production ({environment['sid']})")
    printer.out(f"Domain:      {session.domain_url(domain)}")
    printer.info("Next: callbox assets upload PATH")


@assets.command("upload")
@click.argument("file", metavar="PATH", type=click.Path(path_type=Path))
@api_options
@click.option(
    "--protected",
    is_flag=True,
    default=False,
    help="Serve it only to requests signed by Twilio (X-Twilio-Signature).",
)
@click.option(
    "--private",
    is_flag=True,
    default=False,
    help="No URL: only the service's functions read it, via Runtime.get_assets().",
)
@click.option(
    "--path",
    "route",
    default=None,
    help="Its path on the domain, e.g. /audio/hold.mp3 (default: /<the file's name>).",
)
@output_option
@click.pass_context
def upload_command(
    ctx: click.Context,
    file: Path,
    protected: bool,
    private: bool,
    route: str | None,
    **_flags: Any,
) -> None:
    """Upload the file PATH as an asset and put it live (public unless told otherwise).

    A file already uploaded at the same path is replaced; every other asset stays.

    \b
    Examples:
      callbox assets upload path/to/file.mp3          # https://<domain>/file.mp3
      callbox assets upload greeting.mp3 --protected  # only for Twilio's signed requests
      callbox assets upload data.json --private --path /config/data.json
    """
    if protected and private:
        raise click.ClickException("Choose one of --protected and --private, not both.")
    visibility = "private" if private else "protected" if protected else "public"
    content = _read(file)
    route = route or f"/{file.name}"
    route = route if route.startswith("/") else f"/{route}"
    with open_session(ctx, "assets") as session:
        _upload(session, file, route, visibility, content)


def _read(file: Path) -> bytes:
    if file.is_dir():
        raise click.ClickException(f"Cannot upload {file}: it is a folder; upload one file.")
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise click.ClickException(
            f"Cannot upload {file}: no such file ({file.absolute()}). Check the path."
        ) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror}.") from None


def _upload(session: Session, file: Path, route: str, visibility: str, content: bytes) -> None:
    client, printer = session.client, session.printer
    bucket = require(session)
    service, environment = fetch_or_fail(session, bucket)
    service_sid, environment_sid = bucket.service_sid, bucket.environment_sid
    existing = {a["friendly_name"]: a["sid"] for a in client.resources(service_sid, "asset")}
    asset_sid = existing.get(route) or client.create_resource(service_sid, "asset", route)["sid"]
    content_type = (
        mimetypes.guess_type(route)[0]
        or mimetypes.guess_type(file.name)[0]
        or "application/octet-stream"
    )
    printer.info(f"Uploading {file} as {route} ({visibility}, {len(content)} bytes)")
    try:
        version = client.upload_version(
            service_sid,
            "asset",
            asset_sid,
            path=route,
            visibility=visibility,
            content=content,
            content_type=content_type,
        )
    except ApiError as exc:
        if exc.status in (400, 413):  # the server's size or path rules: one line, as it said
            raise click.ClickException(f"Cannot upload {file} as {route}: {exc}") from None
        raise
    # Read the live build, build on it, activate: one upload at a time on this machine, or
    # parallel uploads would each build on the same old build and all but one file be lost.
    with BucketStore.of(session).lock():
        environment = client.environment(service_sid, environment_sid)
        build_sid = _build_with(session, bucket, environment, version)
        client.activate(service_sid, environment_sid, build_sid)
    entry = _entry(session, version, environment["domain_name"])
    if printer.json:
        printer.emit_json(
            {
                **entry,
                "serviceSid": service["sid"],
                "environmentSid": environment["sid"],
                "buildSid": build_sid,
            }
        )
        return
    printer.info(f"{route} is live on {service['unique_name']} (build {build_sid}).")
    if visibility == "private":
        printer.info(
            "Private assets have no URL: the service's functions read it with "
            f'Runtime.get_assets()["{route}"].open().'
        )
    elif visibility == "protected":
        printer.info("Protected: only requests signed by Twilio (X-Twilio-Signature) get it.")
    printer.out(entry["url"])


def _build_with(
    session: Session, bucket: Bucket, environment: dict[str, Any], version: dict[str, Any]
) -> str:
    """A build of the environment's current build with ``version`` added (or replacing the
    version at its path); returns its SID once completed."""
    client, service = session.client, bucket.service_sid
    asset_sids: list[str] = []
    functions: list[str] = []
    dependencies = runtime = None
    if environment.get("build_sid"):
        previous = client.build(service, environment["build_sid"])
        asset_sids = [v["sid"] for v in previous["asset_versions"] if v["path"] != version["path"]]
        functions = [v["sid"] for v in previous.get("function_versions", [])]
        if functions:  # not made by this plugin, but never silently dropped by an upload
            dependencies = json.dumps(previous.get("dependencies") or [])
            runtime = previous.get("runtime") or ""
    build = client.create_build(
        service,
        function_versions=functions,
        asset_versions=[*asset_sids, version["sid"]],
        dependencies=dependencies,
        runtime=runtime,
    )
    return str(client.wait_for_build(service, build["sid"], session.printer, BUILD_TIMEOUT)["sid"])


@assets.command("list")
@api_options
@click.option(
    "--properties",
    default=",".join(DEFAULT_PROPERTIES),
    show_default=True,
    help="Columns to show, comma-separated (-o json always shows every property).",
)
@output_option
@click.pass_context
def list_command(ctx: click.Context, properties: str, **_flags: Any) -> None:
    """List the assets that are live: SID, path, URL and visibility.

    \b
    Examples:
      callbox assets list
      callbox assets list --properties sid,url,date_created
      callbox assets list -o json
    """
    columns = [p.strip() for p in (properties or "").split(",") if p.strip()]
    unknown = [c for c in columns if c not in PROPERTIES]
    if unknown:
        raise click.ClickException(
            f"Unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} in "
            f"--properties; choose from {', '.join(PROPERTIES)}."
        )
    with open_session(ctx, "assets") as session:
        _list(session, columns or list(DEFAULT_PROPERTIES))


def _list(session: Session, columns: list[str]) -> None:
    bucket = require(session)
    _service, environment = fetch_or_fail(session, bucket)
    versions: list[dict[str, Any]] = []
    if environment.get("build_sid"):
        build = session.client.build(bucket.service_sid, environment["build_sid"])
        versions = build["asset_versions"]
    entries = [_entry(session, v, environment["domain_name"]) for v in versions]
    entries.sort(key=lambda e: str(e["path"]))
    printer = session.printer
    if printer.json:
        printer.emit_json(entries)
        return
    if not entries:
        printer.info("No assets are live yet: upload one with `callbox assets upload PATH`.")
        return
    printer.table(entries, columns)


def _entry(session: Session, version: dict[str, Any], domain: str) -> dict[str, Any]:
    """An asset version as listed: its fields, with the URL (or, private, how code reads it)."""
    entry = {name: version.get(name) for name in PROPERTIES}
    entry["url"] = reached_at(
        session.domain_url(domain), "asset", version["path"], version["visibility"]
    )
    return entry
