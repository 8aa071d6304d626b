"""Deploy a project folder, in the order Twilio's toolkit does it: service -> environment ->
functions and assets (a version each) -> build -> wait -> variables -> deployment.

A project is Python or JavaScript (project.py): function versions are uploaded as
``text/x-python`` or ``application/javascript``, the build's Dependencies come from
requirements.txt or package.json, and a runtime of the other language is refused before
anything is created.

Beyond Twilio: versions carry the SHA-256 of their content, so a file whose path, visibility
and content match a version of the environment's current build (or of the project's latest
build) is not uploaded again; an unchanged project redeploys with no upload at all.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callbox import rules
from callbox.builds import validate
from callbox.builds.validate import BuildFailure
from callbox.routes import Kind, Route
from callbox.rules import MAX_ASSETS, is_service_name, max_bytes, size_text, too_many_assets
from callbox.toolkit import packagejson
from callbox.toolkit.client import ENVIRONMENT_SID, ApiClient
from callbox.toolkit.errors import ApiError, DeployError, PackageJsonError
from callbox.toolkit.printer import Printer
from callbox.toolkit.project import (
    FUNCTION_LANGUAGES,
    LANGUAGE_NAMES,
    RUNTIME_LANGUAGES,
    Language,
    Layout,
    discover,
    not_functions,
    project_language,
)

UPLOAD_CONCURRENCY = 10  # as Twilio's toolkit
KINDS: tuple[Kind, ...] = ("function", "asset")  # functions are uploaded first
CONTENT_TYPES: dict[Language, str] = {"python": "text/x-python", "js": "application/javascript"}


@dataclass(frozen=True)
class DeployRequest:
    layout: Layout
    service_sid: str | None = None
    service_name: str | None = None
    environment: str = "dev"  # a domain suffix, '' for production, or a ZE... SID
    runtime: str | None = None
    variables: dict[str, str] = field(default_factory=dict)  # already filtered for upload
    override_existing: bool = False
    previous_build: str | None = None  # .twiliodeployinfo's latestBuild
    functions: bool = True
    assets: bool = True
    build_timeout: float = 300.0


@dataclass
class Deployed:
    service_sid: str
    service_name: str
    environment_sid: str
    environment_suffix: str
    build_sid: str
    domain: str
    runtime: str
    routes: list[Route] = field(default_factory=list)
    uploaded: int = 0
    reused: int = 0


@dataclass(frozen=True)
class _File:
    route: Route
    size: int
    sha256: str  # the content is read again only if it is uploaded: memory stays one file

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.route.kind, self.route.path, self.route.visibility, self.sha256)


def deploy_project(
    client: ApiClient,
    request: DeployRequest,
    printer: Printer | None = None,
    on_build: Callable[[str, str], None] | None = None,
    on_service: Callable[[str], None] | None = None,
) -> Deployed:
    """Deploy ``request``; ``on_service(service_sid)`` runs once the service exists (created
    or found) and ``on_build(service_sid, build_sid)`` once the build does (before it is known
    to succeed), so what a failed deploy made can be found again."""
    say = printer or Printer("none")
    say.info("Gathering functions and assets to deploy")
    files, language = _gather(request, say)
    dependencies = read_dependencies(request.layout, language)  # a bad file stops us here
    service = _service(client, request, say)
    if on_service is not None:
        on_service(service["sid"])
    environment = _environment(client, service["sid"], request.environment, say)
    known = _known_versions(
        client, {request.previous_build, environment.get("build_sid")}, service["sid"]
    )
    chosen: dict[Kind, list[str]] = {"function": [], "asset": []}
    missing = []
    for file in files:
        if file.key in known:
            chosen[file.route.kind].append(known[file.key])
        else:
            missing.append(file)
    reused = len(files) - len(missing)
    if reused:
        say.info(f"{reused} unchanged file(s) reuse their uploaded versions")
    for kind in KINDS:
        todo = [f for f in missing if f.route.kind == kind]
        chosen[kind].extend(_upload(client, service["sid"], kind, todo, say))
    build = _build(client, service["sid"], request, dependencies, chosen, say, on_build)
    if request.variables:
        say.info("Setting environment variables")
        client.set_variables(service["sid"], environment["sid"], request.variables)
    say.info("Activating deployment")
    client.activate(service["sid"], environment["sid"], build["sid"])
    return Deployed(
        service_sid=service["sid"],
        service_name=service["unique_name"],
        environment_sid=environment["sid"],
        environment_suffix=environment.get("domain_suffix") or "",
        build_sid=build["sid"],
        domain=environment["domain_name"],
        runtime=build.get("runtime") or "",
        routes=[f.route for f in files],
        uploaded=len(missing),
        reused=reused,
    )


def _gather(request: DeployRequest, say: Printer) -> tuple[list[_File], Language | None]:
    layout = request.layout
    layout = Layout(
        layout.root,
        layout.functions if request.functions else None,
        layout.assets if request.assets else None,
    )
    routes = discover(layout)  # functions of both languages: refused here, before any upload
    language = project_language(request.layout, routes.values())
    check_runtime(request.runtime, language, request.layout)
    left_out = not_functions(layout)
    if left_out:
        say.warn(
            f"Not deployed, as they are not functions (.py or .js files): "
            f"{', '.join(_shown(layout, file) for file in left_out)}."
        )
    files = []
    for route in sorted(routes.values(), key=lambda r: (r.kind, r.path)):
        if not route.file.is_file():  # a FIFO would hang the read; a dangling link fail it
            raise DeployError(
                f"{route.file} is not a regular file (a broken link, a pipe or a device): "
                "remove it or move it out of the project."
            )
        digest = hashlib.sha256()
        size = 0
        with route.file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        files.append(_File(route, size, digest.hexdigest()))
    _check_limits(files)
    if not files:
        raise DeployError(f"Nothing to deploy in {layout.root}: {_why_nothing(request)}")
    return files, language


def service_name_from(text: str) -> str:
    """A service unique name from a folder or package name: runs of other characters become
    one dash (my_project -> my-project), at most 49 characters; '' when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:49].strip("-")
    return cleaned if is_service_name(cleaned) else ""


def _shown(layout: Layout, file: Path) -> str:
    try:
        return file.relative_to(layout.root).as_posix()
    except ValueError:
        return str(file)


def runtime_language(runtime: str) -> Language | None:
    """The project language a runtime runs (node22 -> js, python3.12 -> python), if its name
    says (``rules.runtime_language``)."""
    runs = rules.runtime_language(runtime)
    return next((lang for lang, name in RUNTIME_LANGUAGES.items() if name == runs), None)


def check_runtime(runtime: str | None, language: Language | None, layout: Layout) -> None:
    """A runtime of the other language is refused before anything is created or uploaded."""
    wanted = runtime_language(runtime) if runtime else None
    if wanted is None or language is None or wanted == language:
        return
    extension = next(s for s, lang in FUNCTION_LANGUAGES.items() if lang == language)
    raise DeployError(
        f"The runtime {runtime} runs {LANGUAGE_NAMES[wanted]}, but the functions of "
        f"{layout.root} are {LANGUAGE_NAMES[language]} ({extension} files). Deploy with "
        f"--runtime {_example_runtime(language)} (or none: the server chooses), or change "
        '"runtime" in the config file.'
    )


def _example_runtime(language: Language) -> str:
    return "node22" if language == "js" else "python3.12"


def _check_limits(files: list[_File]) -> None:
    """The server's size and count rules, said before anything is created or uploaded."""
    for file in files:
        route = file.route
        limit = max_bytes(route.kind, route.visibility)
        if file.size > limit:
            raise DeployError(
                f"{route.file} is {file.size:,} bytes; a {route.visibility} {route.kind} may be "
                f"at most {size_text(limit)}. Make it smaller or serve it from elsewhere."
            )
    assets = (file.route.visibility for file in files if file.route.kind == "asset")
    excess = too_many_assets(assets)
    if excess is not None:
        visibility, count = excess
        raise DeployError(
            f"The project has {count} {visibility} assets; a build may hold at most "
            f"{MAX_ASSETS[visibility]}."
        )


def _why_nothing(request: DeployRequest) -> str:
    if not (request.functions or request.assets):
        return "--no-functions and --no-assets (or the config) leave nothing to deploy."
    return (
        "no functions (.py or .js files in functions/ or src/) or assets (files in assets/ or "
        "static/) were found. Add some, or point --functions-folder / --assets-folder at them."
    )


def _service(client: ApiClient, request: DeployRequest, say: Printer) -> dict[str, Any]:
    if request.service_sid:
        try:
            return client.service(request.service_sid)
        except ApiError as exc:
            if exc.not_found:
                raise DeployError(
                    f"Service {request.service_sid} was not found for these credentials. Check "
                    "--service-sid (or serviceSid in the config, or .twiliodeployinfo)."
                ) from None
            raise
    name = request.service_name or ""
    say.info(f'Creating service "{name}"')
    created = client.create_service(name)
    if created is not None:
        return created
    existing = client.service(name)
    if request.override_existing:
        return existing
    raise DeployError(
        f'Service with name "{name}" already exists with SID "{existing["sid"]}". Deploy to it '
        "with --override-existing-project (or --force), or choose another name with "
        "--service-name (-n)."
    )


def _environment(client: ApiClient, service: str, target: str, say: Printer) -> dict[str, Any]:
    say.info(f'Configuring "{target or "bare"}" environment')
    found = client.find_environment(service, target)
    if found is not None:
        return found
    if ENVIRONMENT_SID.fullmatch(target):
        raise DeployError(f"Environment {target} was not found in this service.")
    return client.create_environment(service, target)


def _known_versions(
    client: ApiClient, build_sids: set[Any], service_sid: str
) -> dict[tuple[str, str, str, str], str]:
    """Versions already uploaded, by (kind, path, visibility, content hash)."""
    known: dict[tuple[str, str, str, str], str] = {}
    for sid in sorted(s for s in build_sids if s):
        try:
            build = client.build(service_sid, sid)
        except ApiError as exc:
            if exc.not_found:  # deleted, or a build of another service
                continue
            raise
        if build.get("service_sid") != service_sid:
            continue
        for kind in KINDS:
            for version in build.get(f"{kind}_versions", []):
                digest = version.get("content_sha256")
                if digest:
                    key = (kind, version["path"], version["visibility"], digest)
                    known[key] = version["sid"]
    return known


def _upload(
    client: ApiClient, service: str, kind: Kind, files: list[_File], say: Printer
) -> list[str]:
    """Create what is missing and upload one version of each file; returns the version SIDs."""
    if not files:
        return []
    existing = {r["friendly_name"]: r["sid"] for r in client.resources(service, kind)}
    label = "Functions" if kind == "function" else "Assets"

    def upload(file: _File) -> str:
        path = file.route.path
        sid = existing.get(path)
        if sid is None:
            sid = client.create_resource(service, kind, path)["sid"]
        if kind == "function":
            content_type = CONTENT_TYPES[FUNCTION_LANGUAGES[file.route.file.suffix]]
        else:
            content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        with file.route.file.open("rb") as handle:  # streamed: memory stays small
            version = client.upload_version(
                service,
                kind,
                sid,
                path=path,
                visibility=file.route.visibility,
                content=handle,
                content_type=content_type,
            )
        if version.get("content_sha256") not in (None, file.sha256):
            raise DeployError(f"{file.route.file} changed during the deploy; deploy again.")
        return str(version["sid"])

    sids = []
    with (
        say.progress(f"Uploading {len(files)} {label}", len(files)) as bar,
        ThreadPoolExecutor(min(UPLOAD_CONCURRENCY, len(files))) as pool,
    ):
        for sid in pool.map(upload, files):
            sids.append(sid)
            bar.advance()
    return sids


def read_dependencies(layout: Layout, language: Language | None) -> list[dict[str, str]]:
    """The build's Dependencies: package.json's for JavaScript (and for a project that has
    only assets and a package.json), requirements.txt's for Python."""
    if language == "js":
        try:
            return packagejson.dependencies(layout.root)
        except PackageJsonError as exc:
            raise DeployError(str(exc)) from None
    return read_requirements(layout)


def dependencies_source(language: Language | None) -> str:
    return packagejson.FILE_NAME if language == "js" else "requirements.txt"


def read_requirements(layout: Layout) -> list[dict[str, str]]:
    """requirements.txt as the build's Dependencies: name and version specifier."""
    file = layout.root / "requirements.txt"
    if not file.is_file():
        return []
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DeployError(
            f"{file} is not a UTF-8 text file ({exc.reason} at byte {exc.start}); write one "
            "requirement per line."
        ) from None
    try:
        return validate.requirements_entries(text)
    except BuildFailure as exc:
        raise DeployError(str(exc)) from None


def _build(
    client: ApiClient,
    service: str,
    request: DeployRequest,
    dependencies: list[dict[str, str]],
    chosen: dict[Kind, list[str]],
    say: Printer,
    on_build: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    build = client.create_build(
        service,
        function_versions=chosen["function"],
        asset_versions=chosen["asset"],
        dependencies=validate.dependencies_field(dependencies) if dependencies else None,
        # Without a runtime the server chooses: the newest Node.js it has for JavaScript
        # functions, its default Python for Python ones.
        runtime=request.runtime or None,
    )
    if on_build is not None:
        on_build(build["service_sid"], build["sid"])
    return client.wait_for_build(service, build["sid"], say, request.build_timeout)
