"""``callbox new``: copy a template shipped with callbox into a project, under a namespace.

A template folder holds ``functions/`` and ``assets/`` (copied to ``<functions>/<namespace>/``
and ``<assets>/<namespace>/``), a ``.env`` (appended to the project's), an optional
``requirements.txt`` or ``package.json`` (whose dependencies are merged into the project's)
and a ``README.md`` (copied to ``readmes/<namespace>/<id>.md``). These are the rules of
Twilio's ``twilio-run new``; every file is checked before any is written, so a refused
template leaves the project untouched.

Each template exists in Python (``templates/<id>/``) and JavaScript (``templates/<id>/js/``);
``js/<id>`` and ``python/<id>`` name one language's version.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypedDict

from dotenv import dotenv_values

from callbox.toolkit import packagejson
from callbox.toolkit.errors import PackageJsonError, TemplateError
from callbox.toolkit.project import (
    ASSET_FOLDERS,
    FUNCTION_FOLDERS,
    LANGUAGE_NAMES,
    Language,
    Layout,
    ProjectError,
    discover,
    functions_language,
    project_language,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
# A command run from inside one of these folders works on the project around it.
PROJECT_SUBFOLDERS = frozenset({*FUNCTION_FOLDERS, *ASSET_FOLDERS, "readmes"})
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_ENV_KEY_RE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")
_REQUIREMENT_NAME_RE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_SKIPPED = frozenset({"__pycache__", ".DS_Store"})
LANGUAGES: tuple[Language, ...] = ("python", "js")


@dataclass(frozen=True)
class Template:
    """One entry of ``templates.json`` and the folder holding its files."""

    id: str
    name: str
    description: str
    folder: Path
    language: Language = "python"


@dataclass
class Created:
    """What ``create_from_template`` did, relative to the project folder."""

    files: list[Path] = field(default_factory=list)
    readme: Path | None = None
    new_env_keys: list[str] = field(default_factory=list)
    new_requirements: list[str] = field(default_factory=list)
    new_packages: list[str] = field(default_factory=list)  # name@version added to package.json


def _entries(source: Path) -> list[dict[str, str]]:
    return list(json.loads((source / "templates.json").read_text(encoding="utf-8"))["templates"])


def _folder(source: Path, template_id: str, language: Language) -> Path:
    return source / template_id / "js" if language == "js" else source / template_id


def languages(source: Path, template_id: str) -> list[Language]:
    """The languages ``template_id`` has files for, Python first."""
    found: list[Language] = []
    for language in LANGUAGES:
        folder = _folder(source, template_id, language)
        if any((folder / kind).is_dir() for kind in ("functions", "assets")):
            found.append(language)
    return found


def list_templates(source: Path | None = None, language: Language = "python") -> list[Template]:
    """The templates listed in ``templates.json`` (of ``source``, default: those shipped) that
    exist in ``language``."""
    source = source or TEMPLATES_DIR
    return [
        Template(
            id=e["id"],
            name=e["name"],
            description=e["description"],
            folder=_folder(source, e["id"], language),
            language=language,
        )
        for e in _entries(source)
        if language in languages(source, e["id"])
    ]


class CatalogEntry(TypedDict):
    id: str
    name: str
    description: str
    languages: list[Language]


def catalog(source: Path | None = None) -> list[CatalogEntry]:
    """Every template once, with the languages it exists in (``list-templates -o json``)."""
    source = source or TEMPLATES_DIR
    return [
        CatalogEntry(
            id=e["id"],
            name=e["name"],
            description=e["description"],
            languages=languages(source, e["id"]),
        )
        for e in _entries(source)
    ]


def split_id(template_id: str) -> tuple[Language | None, str]:
    """``js/hello-world`` -> ("js", "hello-world"); a bare id names no language."""
    prefix, slash, rest = template_id.partition("/")
    if slash and prefix in LANGUAGES:
        return prefix, rest  # type: ignore[return-value]
    return None, template_id


def get_template(
    template_id: str, source: Path | None = None, language: Language = "python"
) -> Template:
    """The template called ``template_id`` (``js/<id>`` or ``python/<id>`` names the language,
    else ``language``); an unknown id names the valid ones."""
    source = source or TEMPLATES_DIR
    named, bare = split_id(template_id)
    language = named or language
    entries = _entries(source)
    if bare not in {e["id"] for e in entries}:
        valid = ", ".join(e["id"] for e in entries)
        raise TemplateError(f'Unknown template "{template_id}"; valid templates are: {valid}.')
    for template in list_templates(source, language):
        if template.id == bare:
            return template
    have = " and ".join(LANGUAGE_NAMES[lang] for lang in languages(source, bare)) or "nothing"
    raise TemplateError(
        f'The template "{bare}" has no {LANGUAGE_NAMES[language]} version (it has {have}).'
    )


def language_of_project(root: Path, *, functions_only: bool = False) -> Language | None:
    """The language of the project at ``root``: its functions', else (unless
    ``functions_only``) package.json's or requirements.txt's; None when nothing tells or the
    project cannot be read."""
    try:
        layout = Layout.find(root)
        if functions_only:
            files = [r.file for r in discover(layout).values() if r.kind == "function"]
            return functions_language(layout, files)
        return project_language(layout)
    except ProjectError:
        return None


def normalize_namespace(raw: str) -> str:
    """The namespace as a relative folder path: no whitespace, no trailing ``.py``, no ``..``."""
    if any(ch.isspace() for ch in raw):
        raise TemplateError(
            f'The namespace "{raw}" contains whitespace; use dashes or underscores instead.'
        )
    namespace = raw.removesuffix(".py").strip("/")
    if not namespace:
        raise TemplateError('The namespace is empty; give a folder name such as "hello".')
    if raw.startswith(("/", "\\")):
        raise TemplateError(
            f'The namespace "{raw}" is an absolute path; give a folder name such as '
            f'"{namespace.rsplit("/", 1)[-1] or "hello"}", created inside functions/ and assets/.'
        )
    for segment in namespace.split("/"):
        if segment in ("", ".", ".."):
            raise TemplateError(
                f'The namespace "{raw}" must be folder names separated by single "/", '
                'without "." or ".." (it may not leave the functions/ and assets/ folders).'
            )
        if not _SEGMENT_RE.fullmatch(segment):
            raise TemplateError(
                f'The namespace "{raw}" has an invalid folder name "{segment}"; use letters, '
                'digits, "-", "_" and "." (not first).'
            )
    return namespace


def project_root(cwd: Path) -> Path:
    """The project folder: ``cwd``, or its parent when ``cwd`` is one of the project's folders."""
    cwd = cwd.resolve()
    return cwd.parent if cwd.name in PROJECT_SUBFOLDERS else cwd


def create_from_template(
    template: Template, namespace: str, root: Path, env_file: Path | None = None
) -> Created:
    """Copy ``template`` into the project at ``root`` under ``namespace`` (already normalized);
    its variables go to ``env_file`` (default: the project's ``.env``)."""
    env_file = env_file if env_file is not None else root / ".env"
    functions_dir, assets_dir = project_folders(root)
    plan: list[tuple[Path, Path]] = []
    for kind, target in (("functions", functions_dir), ("assets", assets_dir)):
        source = template.folder / kind
        for file in _files(source):
            plan.append((file, target / namespace / file.relative_to(source)))
    readme_source = template.folder / "README.md"
    readme = root / "readmes" / namespace / f"{template.id}.md"
    if readme_source.is_file():
        plan.append((readme_source, readme))
    for _, target in plan:
        if target.exists() or target.is_symlink():
            raise TemplateError(
                f'Template with name "{namespace}" has duplicate file "{target.name}" in '
                f'"{shown(target.parent, root)}"; choose another namespace or remove the file.'
            )

    # The files merged into after the copy must be readable now, or nothing is written.
    for name, project_file in ((".env", env_file), ("requirements.txt", root / "requirements.txt")):
        if (template.folder / name).is_file():
            _check_text_file(project_file)
    packages_source = template.folder / packagejson.FILE_NAME
    if packages_source.is_file():
        try:
            packagejson.dependencies(root)  # the project's package.json must be usable
        except PackageJsonError as exc:
            raise TemplateError(f"{exc} Fix it and run again; nothing was created.") from None

    created = Created(readme=readme.relative_to(root) if readme_source.is_file() else None)
    written: list[Path] = []  # files, then folders, this call created
    try:
        for source_file, target in plan:
            missing = [p for p in target.parents if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            written.extend(reversed(missing))
            # "x": never replace a file that appeared since the check above.
            with target.open("xb") as out:
                written.append(target)
                out.write(source_file.read_bytes())
    except OSError as exc:
        _take_back(written)
        raise TemplateError(
            f"Could not write {shown(target, root)}: {exc.strerror or exc}; nothing was created."
        ) from None
    created.files = [target.relative_to(root) for _, target in plan if target != readme]

    env_source = template.folder / ".env"
    if env_source.is_file():
        created.new_env_keys = merge_env(
            env_source.read_text(encoding="utf-8"), env_file, namespace
        )
    requirements_source = template.folder / "requirements.txt"
    if requirements_source.is_file():
        created.new_requirements = merge_requirements(
            requirements_source.read_text(encoding="utf-8"), root / "requirements.txt", namespace
        )
    if packages_source.is_file():
        created.new_packages = merge_package_json(packages_source, root)
    return created


def merge_package_json(template_file: Path, root: Path) -> list[str]:
    """Add the template's package.json dependencies the project does not list yet (its own
    versions stay); returns them as ``name@version``. A project without package.json gets
    one."""
    wanted = packagejson.dependencies(template_file.parent)
    data = packagejson.read(root) or {"private": True}
    declared = data.setdefault("dependencies", {})
    added = []
    for entry in wanted:
        if entry["name"] not in declared:
            declared[entry["name"]] = entry["version"]
            added.append(f"{entry['name']}@{entry['version']}")
    if added:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        (root / packagejson.FILE_NAME).write_text(text, encoding="utf-8")
    return added


def merge_env(template_env: str, project_env: Path, namespace: str) -> list[str]:
    """Add a template's .env to the project's; returns the keys the project did not have.

    Keys the project already sets are written commented out, so its values stay in force.
    """
    template_keys = list(dotenv_values(stream=io.StringIO(template_env)))
    if not project_env.is_file():
        project_env.write_text(template_env, encoding="utf-8")
        return template_keys
    current = project_env.read_text(encoding="utf-8")
    existing = set(dotenv_values(stream=io.StringIO(current)))
    lines = []
    for line in template_env.splitlines():
        match = _ENV_KEY_RE.match(line)
        lines.append(f"# {line}" if match and match.group(1) in existing else line)
    separator = "" if current.endswith("\n") or not current else "\n"
    separator += f'\n# Variables for function "{namespace}"\n# ---\n'
    with project_env.open("a", encoding="utf-8") as out:
        out.write(separator + "\n".join(lines) + "\n")
    return [key for key in template_keys if key not in existing]


def merge_requirements(template_requirements: str, project_file: Path, namespace: str) -> list[str]:
    """Append the template's requirement lines whose package the project does not list yet."""
    current = project_file.read_text(encoding="utf-8") if project_file.is_file() else ""
    listed = {_package(line) for line in current.splitlines()} - {None}
    added = []
    for line in template_requirements.splitlines():
        package = _package(line)
        if package is not None and package not in listed:
            listed.add(package)
            added.append(line.strip())
    if added:
        separator = "" if current.endswith("\n") or not current else "\n"
        header = f'# Packages for function "{namespace}"\n'
        with project_file.open("a", encoding="utf-8") as out:
            out.write(separator + header + "\n".join(added) + "\n")
    return added


def _package(line: str) -> str | None:
    """The normalized package name a requirement line names (PEP 503), or None."""
    text = line.split("#", 1)[0]
    match = _REQUIREMENT_NAME_RE.match(text)
    if match is None or text.lstrip().startswith("-"):
        return None
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def project_folders(root: Path) -> tuple[Path, Path]:
    """The project's functions and assets folders; raises TemplateError when one is missing."""

    def first(names: tuple[str, ...]) -> Path | None:
        return next((root / n for n in names if (root / n).is_dir()), None)

    functions_dir, assets_dir = first(FUNCTION_FOLDERS), first(ASSET_FOLDERS)
    if functions_dir is None and assets_dir is None:
        raise TemplateError(
            f"Invalid Serverless Project Structure: {root} has none of the folders functions, "
            "src, assets or static. Run this in a project folder, pass --cwd, or create a "
            "project with `callbox init`."
        )
    if functions_dir is None:
        raise TemplateError(
            f'Could not find any of these directories "functions", "src" in {root}; '
            "create functions/ for the template's functions."
        )
    if assets_dir is None:
        raise TemplateError(
            f'Could not find any of these directories "assets", "static" in {root}; '
            "create assets/ for the template's assets."
        )
    return functions_dir, assets_dir


def _check_text_file(path: Path) -> None:
    if not path.exists():
        return
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            f"{path} is not valid UTF-8 ({exc.reason} at byte {exc.start}); fix it and run again."
        ) from None
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _take_back(written: list[Path]) -> None:
    """All or nothing: remove what a failed copy created, newest first."""
    for path in reversed(written):
        # A folder something else wrote into meanwhile is left alone.
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not _SKIPPED.intersection(path.relative_to(folder).parts)
        and path.suffix != ".pyc"
    )


def shown(path: Path, root: Path) -> str:
    """``path`` as the user sees it: relative to the project when inside it."""
    try:
        return PurePosixPath(path.relative_to(root)).as_posix()
    except ValueError:
        return str(path)
