"""Read a project folder: functions/, assets/, .env, requirements.txt or package.json.

functions/sms/reply.protected.py -> /sms/reply (protected)
functions/sms/reply.protected.js -> /sms/reply (protected), in a JavaScript project
assets/logo.private.png          -> /logo.png (private)

A project is Python or JavaScript, never both (one runtime per build): its functions say
which, or else its package.json (JavaScript) or requirements.txt / pyproject.toml (Python).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from dotenv import dotenv_values

from callbox.routes import Kind, Route, Visibility
from callbox.rules import RuntimeLanguage
from callbox.toolkit.errors import ProjectError

FUNCTION_FOLDERS = ("functions", "src")
ASSET_FOLDERS = ("assets", "static")

Language = Literal["python", "js"]
# A function file's language by its extension; Twilio's toolkit takes exactly ".js" (not .mjs,
# .cjs or .ts), callbox ".py" too. Any other file in the functions folder is not a function.
FUNCTION_LANGUAGES: dict[str, Language] = {".py": "python", ".js": "js"}
LANGUAGE_NAMES: dict[Language, str] = {"python": "Python", "js": "JavaScript"}
# What a build's runtime calls the language (callbox.rules): JavaScript runs on Node.js.
RUNTIME_LANGUAGES: dict[Language, RuntimeLanguage] = {"python": "python", "js": "node"}
_BAD_CHARS = set(";,?:@+&$()'\" ")
_MAX_PATH = 255


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
    if kind == "function":
        name = _without_function_suffix(name)
    path = "/" + "/".join([*relative.parent.parts, name])
    path = re.sub(r"\s", "-", path)
    return path, visibility


def _without_function_suffix(name: str) -> str:
    for suffix in FUNCTION_LANGUAGES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_function_file(file: Path) -> bool:
    """Whether a file of the functions folder is a function (``.py`` or ``.js``); Python's
    package marker ``__init__.py`` is not."""
    return file.suffix in FUNCTION_LANGUAGES and file.name != "__init__.py"


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


def discover(layout: Layout) -> dict[str, Route]:
    """Every route of the project; raises ProjectError on an invalid or duplicate path, and on
    functions of both languages (one runtime per build)."""
    routes: dict[str, Route] = {}
    sources: list[tuple[Kind, Path | None]] = [
        ("function", layout.functions),
        ("asset", layout.assets),
    ]
    for kind, folder in sources:
        if folder is None:
            continue
        files = _files(folder)
        if kind == "function":
            files = [file for file in files if is_function_file(file)]
            functions_language(layout, files)  # before routes: a.py and a.js are not duplicates
        for file in files:
            relative = PurePosixPath(file.relative_to(folder).as_posix())
            path, visibility = route_for_file(relative, kind)
            validate_path(path)
            if path in routes:
                raise ProjectError(
                    f"Duplicate. Path {path} already exists ({routes[path].file} and {file})."
                )
            routes[path] = Route(path=path, kind=kind, visibility=visibility, file=file)
    return routes


def functions_language(layout: Layout, files: Iterable[Path]) -> Language | None:
    """The one language of function ``files`` (None without any); files of both languages are
    a ProjectError naming them."""
    found: dict[Language, list[Path]] = {}
    for file in files:
        found.setdefault(FUNCTION_LANGUAGES[file.suffix], []).append(file)
    if len(found) > 1:
        listed = "; ".join(
            f"{LANGUAGE_NAMES[language]}: {_some(layout.root, files)}"
            for language, files in sorted(found.items())
        )
        raise ProjectError(
            "A project's functions are all Python (.py) or all JavaScript (.js): a build runs "
            f"one runtime. Found {listed}. Move one kind to a project of its own."
        )
    return next(iter(found), None)


def _some(root: Path, files: list[Path], most: int = 5) -> str:
    shown = sorted(_relative(root, file) for file in files)
    more = f" and {len(shown) - most} more" if len(shown) > most else ""
    return ", ".join(shown[:most]) + more


def _relative(root: Path, file: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)


def project_language(layout: Layout, routes: Iterable[Route] | None = None) -> Language | None:
    """The project's language: its functions', else package.json's presence (JavaScript), else
    requirements.txt's or pyproject.toml's (Python); None when nothing tells."""
    if routes is None:
        routes = discover(layout).values()
    functions = [route.file for route in routes if route.kind == "function"]
    language = functions_language(layout, functions)
    if language is not None:
        return language
    if (layout.root / "package.json").is_file():
        return "js"
    if any((layout.root / name).is_file() for name in ("requirements.txt", "pyproject.toml")):
        return "python"
    return None


def not_functions(layout: Layout) -> list[Path]:
    """Files of the functions folder that are not functions (a ``.ts``, ``.mjs``, ``.json``,
    ...): a deploy names them rather than leaving them out without a word. Hidden files,
    ``__pycache__`` and ``__init__.py`` are not counted."""
    if layout.functions is None:
        return []
    return [
        file
        for file in _files(layout.functions)
        if not is_function_file(file) and file.name != "__init__.py" and file.suffix != ".pyc"
    ]


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
