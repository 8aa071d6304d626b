"""Read a project folder: functions/, assets/, .env and requirements.txt (or package.json).

functions/sms/reply.protected.py -> /sms/reply (protected)
functions/sms/reply.protected.js -> /sms/reply (protected), in a JavaScript project
assets/logo.private.png          -> /logo.png (private)
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dotenv import dotenv_values

from callbox.gateway.source import Kind, Route, Visibility

FUNCTION_FOLDERS = ("functions", "src")
ASSET_FOLDERS = ("assets", "static")
_BAD_CHARS = set(";,?:@+&$()'\" ")
_MAX_PATH = 255
# A project's language is its functions' (one per project, as one runtime per build).
EXTENSIONS = {"python": ".py", "node": ".js"}


class ProjectError(ValueError):
    """The project folder cannot be served as it is; the message says what to change."""


@dataclass(frozen=True)
class Layout:
    root: Path
    functions: Path | None
    assets: Path | None

    @classmethod
    def find(
        cls, root: Path, functions_folder: str | None = None, assets_folder: str | None = None
    ) -> Layout:
        if not root.is_dir():
            raise ProjectError(f"{root} is not a folder; give the path of a callbox project.")
        return cls(
            root=root,
            functions=_first_folder(root, functions_folder, FUNCTION_FOLDERS),
            assets=_first_folder(root, assets_folder, ASSET_FOLDERS),
        )


def _first_folder(root: Path, explicit: str | None, defaults: tuple[str, ...]) -> Path | None:
    if explicit:
        return _explicit_folder(root / explicit, f"--{defaults[0]}-folder")
    for name in defaults:
        if (root / name).is_dir():
            return (root / name).resolve()
    return None


def _explicit_folder(path: Path, flag: str) -> Path:
    """The folder ``flag`` names: it must exist and be a folder (not a file such as README.md)."""
    try:
        folder = path.resolve()
        mode = folder.stat().st_mode
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ProjectError(f"The folder {exc.filename or path} does not exist.") from None
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ProjectError(f"The folder {path} cannot be read ({reason}); check {flag}.") from None
    if not stat.S_ISDIR(mode):
        raise ProjectError(f"{folder} is not a folder; give {flag} the path of a folder.")
    return folder


def validate_path(path: str) -> None:
    """The path rules of Twilio's toolkit; raises ProjectError with the rule that failed."""
    if not path.startswith("/"):
        raise ProjectError(f'Expected path to start with "/". Got: "{path}"')
    if "#" in path:
        raise ProjectError(f'Path cannot contain a #. Got: "{path}"')
    if any(ch in _BAD_CHARS for ch in path):
        raise ProjectError(
            f'Path cannot contain any of the following characters: ;,?:@+&$()\' ". Got: "{path}"'
        )
    if len(path) > _MAX_PATH:
        raise ProjectError(
            f"Path length must be shorter than 256 characters. Got: {len(path)} characters."
        )


def route_for_file(relative: PurePosixPath, kind: Kind) -> tuple[str, Visibility]:
    """Route path and visibility of a file, given its path relative to its folder."""
    name = relative.name
    visibility: Visibility = "public"
    for marker in ("protected", "private"):
        match = re.search(rf"\.{marker}(\.[^.]+)?$", name)
        if match:
            visibility = marker  # type: ignore[assignment]
            name = name[: match.start()] + (match.group(1) or "")
            break
    for extension in EXTENSIONS.values():
        if kind == "function" and name.endswith(extension):
            name = name[: -len(extension)]
            break
    path = "/" + "/".join([*relative.parent.parts, name])
    path = re.sub(r"\s", "-", path)
    return path, visibility


def walk(folder: Path, *, hidden: bool = False) -> Iterator[tuple[str, list[str]]]:
    """(folder, file names) below ``folder``, sorted. Linked folders are followed (as Twilio's
    toolkit does); a link back to a folder on the way down is not, so a loop ends, while two
    links to the same folder both count. __pycache__ is skipped, and dot-folders too unless
    ``hidden``."""
    yield from _walk(folder, (), hidden)


def _walk(folder: Path, above: tuple[str, ...], hidden: bool) -> Iterator[tuple[str, list[str]]]:
    real = os.path.realpath(folder)
    if real in above:
        return  # a link loop
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return  # vanished or unreadable: as os.walk, skip it
    files = [e.name for e in entries if not _is_folder(e)]
    yield str(folder), files
    for entry in entries:
        name = entry.name
        if _is_folder(entry) and name != "__pycache__" and (hidden or not name.startswith(".")):
            yield from _walk(Path(entry.path), (*above, real), hidden)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, filenames in walk(folder):
        found.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return found


def function_sources(layout: Layout) -> dict[str, list[Path]]:
    """The project's function files by language ("python": .py, "node": .js)."""
    found: dict[str, list[Path]] = {language: [] for language in EXTENSIONS}
    if layout.functions is None:
        return found
    for file in _files(layout.functions):
        for language, extension in EXTENSIONS.items():
            if file.suffix == extension and file.name != "__init__.py":
                found[language].append(file)
    return found


def project_language(layout: Layout) -> str:
    """ "node" when the functions are JavaScript (or package.json is all there is), "python"
    otherwise; raises ProjectError when both languages are there, naming the files."""
    sources = function_sources(layout)
    python, node = sources["python"], sources["node"]
    if python and node:

        def names(files: list[Path]) -> str:
            shown = [str(f.relative_to(layout.root)) for f in files[:5]]
            return ", ".join(shown) + (f" and {len(files) - 5} more" if len(files) > 5 else "")

        raise ProjectError(
            f"This project mixes Python functions ({names(python)}) and JavaScript functions "
            f"({names(node)}); a project runs one language. Move one kind to another project."
        )
    if node or (not python and (layout.root / "package.json").is_file()):
        return "node"
    return "python"


def discover(layout: Layout, language: str = "python") -> dict[str, Route]:
    """Every route of the project (functions of ``language``); raises ProjectError on an
    invalid or duplicate path."""
    routes: dict[str, Route] = {}
    sources: list[tuple[Kind, Path | None]] = [
        ("function", layout.functions),
        ("asset", layout.assets),
    ]
    for kind, folder in sources:
        if folder is None:
            continue
        for file in _files(folder):
            if kind == "function" and (
                file.suffix != EXTENSIONS[language] or file.name == "__init__.py"
            ):
                continue
            relative = PurePosixPath(file.relative_to(folder).as_posix())
            path, visibility = route_for_file(relative, kind)
            validate_path(path)
            if path in routes:
                raise ProjectError(
                    f"Duplicate. Path {path} already exists ({routes[path].file} and {file})."
                )
            routes[path] = Route(path=path, kind=kind, visibility=visibility, file=file)
    return routes


def read_env(file: Path) -> dict[str, str]:
    """Variables of a .env file; a missing file is empty, a key without value is ''."""
    if not file.is_file():
        return {}
    try:
        return {key: value or "" for key, value in dotenv_values(file).items()}
    except UnicodeDecodeError as exc:
        raise ProjectError(
            f"{file} is not valid UTF-8 ({exc.reason} at byte {exc.start})."
        ) from None


def fingerprint(layout: Layout, extra: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """Cheap state of every folder and file that matters: any edit, add or delete changes it."""
    entries: list[tuple[str, int, int]] = []
    folders = [f for f in (layout.functions, layout.assets) if f is not None]
    for folder in folders:
        # Folders themselves are left out: __pycache__ appearing must not count as a change.
        for dirpath, filenames in walk(folder, hidden=True):
            entries.extend(_stat(os.path.join(dirpath, name)) for name in filenames)
    entries.extend(_stat(str(path)) for path in extra)
    return tuple(entries)


def _stat(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_mtime_ns, st.st_size)
