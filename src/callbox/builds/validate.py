"""Check what a build is made of before anything is installed or served.

Everything here is pure: sources are parsed with ``ast`` and compiled, never imported or run
(the server process must not execute user code). Each check raises ``BuildFailure`` whose
message is the reason the user sees.

Dependencies are read here and nowhere else: the API when a build is created, the builder, and
the toolkit before it uploads anything (requirements.txt -> entries -> the ``Dependencies``
field in Twilio's wire form).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import PurePosixPath
from typing import NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from callbox.rules import RUNTIME_HANDLER

# Provided by the runtime, never installed: the worker's warm parent already imports the twilio
# the server ships, and the Twilio toolkit always lists its Node runtime handler.
TWILIO = "twilio"

_ANY_VERSION = {"", "*", "latest"}
_EXACT = re.compile(r"^\d+(\.\d+)*$")
_EXACT_START = re.compile(r"^\d")  # "1.2.0" or "1.2.0; marker": an exact version
MAX_VERSION_LENGTH = 100
EXAMPLE = '[{"name": "requests", "version": "2.32.3"}]'
# A path segment becomes a file or folder name in the build (a function's last one with ".py"
# added); Linux allows 255 bytes per name, and 200 leaves room for that suffix and any other.
MAX_SEGMENT_BYTES = 200


class BuildFailure(Exception):
    """The build cannot complete because of what the user sent; the message says why."""


class Dependencies(NamedTuple):
    install: list[str]  # pip requirement lines, normalised, unique and sorted
    provided: list[str]  # entries the runtime provides, as the user wrote them
    entries: list[dict[str, str]]  # every {name, version} as sent, stripped: what is stored


def function_file(kind: str, path: str, language: str = "python") -> PurePosixPath:
    """Where a version is written, relative to the build folder (a function gets its
    language's extension); refuses paths that escape it."""
    label = kind.capitalize()
    if not path.startswith("/") or path == "/":
        raise BuildFailure(f"{label} path {path!r} must start with '/' and name a file.")
    parts = path[1:].split("/")
    if "\x00" in path or any(part in {"", ".", ".."} for part in parts):
        raise BuildFailure(
            f"{label} path {path!r} is not allowed: it must not contain empty, '.' or '..' "
            "segments."
        )
    long = next((part for part in parts if len(part.encode()) > MAX_SEGMENT_BYTES), None)
    if long is not None:
        raise BuildFailure(
            f"{label} path {path} has a segment of {len(long.encode())} bytes; each part between "
            f"slashes may be at most {MAX_SEGMENT_BYTES} bytes (UTF-8), since it becomes a file "
            "name. Upload it under a shorter path."
        )
    if kind == "function":
        extension = ".js" if language == "node" else ".py"
        return PurePosixPath("functions", *parts[:-1], parts[-1] + extension)
    return PurePosixPath("assets", *parts)


def check_layout(kind: str, paths: list[str], language: str = "python") -> None:
    """Two versions with one path, or a file that is also another's folder, cannot be written."""
    owners: dict[PurePosixPath, str] = {}
    for path in paths:
        file = function_file(kind, path, language)
        if file in owners:
            raise BuildFailure(f"The build has two {kind}s with the path {path}; keep one.")
        owners[file] = path
    for file, path in owners.items():
        clash = next((owners[p] for p in file.parents if p in owners), None)
        if clash is not None:
            raise BuildFailure(
                f"{kind.capitalize()} {path} would be written inside the file of {kind} {clash}; "
                "rename one of them."
            )


def check_function(path: str, visibility: str, source: bytes) -> None:
    """The source is UTF-8, compiles, and (unless private) binds ``handler`` at top level."""
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BuildFailure(
            f"Function {path} is not UTF-8 text (byte {source[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8."
        ) from None
    filename = f"functions{path}.py"
    try:
        tree = ast.parse(text, filename)
        compile(tree, filename, "exec", dont_inherit=True)  # the checks ast.parse leaves out
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise BuildFailure(f"Function {path} does not compile: {where}{exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        raise BuildFailure(f"Function {path} does not compile: {exc}") from None
    if visibility == "private":
        return  # helpers are imported by other functions, never invoked
    bound, defined = top_level_names(tree)
    if "handler" not in bound and "*" not in bound:
        found = ", ".join(defined) if defined else "nothing"
        raise BuildFailure(
            f"Function {path} has no `handler`; found: {found}. "
            "Define `def handler(context, event, callback)` (or `async def`)."
        )


def top_level_names(tree: ast.Module) -> tuple[set[str], list[str]]:
    """Names the module binds when imported (``*`` for a star import), and those it defines.

    Statements under a top-level ``if``/``try``/``with``/loop run at import too, so their
    bindings count; function and class bodies do not. ``defined`` leaves out imports and
    ``_private`` names, as the worker's loader does when it reports the same problem.
    """
    bound: set[str] = set()
    defined: list[str] = []

    def define(name: str) -> None:
        bound.add(name)
        if not name.startswith("_") and name not in defined:
            defined.append(name)

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                define(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    _targets(target, define)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                _targets(node.target, define)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    bound.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.With | ast.AsyncWith):
                visit(node.body)
            elif isinstance(node, ast.Try | ast.TryStar):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return bound, sorted(defined)


def _targets(target: ast.expr, define: Callable[[str], None]) -> None:
    if isinstance(target, ast.Name):
        define(target.id)
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            _targets(element, define)
    elif isinstance(target, ast.Starred):
        _targets(target.value, define)


def parse_dependencies(text: str, language: str = "python") -> Dependencies:
    """The build's ``Dependencies`` JSON ``[{name, version}]``: pip requirement lines for a
    Python build, npm ``name@version`` specs for a Node.js one (``callbox.builds.npm``).

    The one parser: the API runs it when a build is created (a BuildFailure is then a 400) and
    the builder runs it again on the stored text, so both refuse and accept the same entries.
    """
    written = _entries(text)
    for entry in written:
        if len(entry["version"]) > MAX_VERSION_LENGTH:
            raise BuildFailure(
                f"The version of dependency {entry['name'][:100]} is too long: at most "
                f"{MAX_VERSION_LENGTH} characters, found {len(entry['version'])}."
            )
    if language == "node":
        from callbox.builds import npm

        specs, handled = npm.parse(written)
        return Dependencies(specs, handled, written)
    lines: set[str] = set()
    provided: list[str] = []
    for entry in written:
        name, version = entry["name"], entry["version"]
        if name == RUNTIME_HANDLER:
            if not _EXACT.match(version):
                raise BuildFailure(
                    f"{RUNTIME_HANDLER} needs an exact version such as 2.0.0; found {version!r}."
                )
            provided.append(f"{name}@{version}")
            continue
        line = requirement_line(name, version)
        if is_twilio(name):
            provided.append(line)
            continue
        lines.add(line)
    return Dependencies(sorted(lines), provided, written)


def declared_dependencies(raw: str | None, language: str = "python") -> list[dict[str, str]]:
    """A build's ``Dependencies`` field as it is stored and echoed: read with or without the
    pair of double quotes Twilio's toolkit wraps it in, every entry checked as the build will
    check it, and Twilio's defaults added where missing (``twilio``; for Node.js
    ``@twilio/runtime-handler`` too)."""
    text = (raw or "").strip()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    entries = parse_dependencies(text, language).entries
    if language == "node":
        from callbox.builds import npm

        return npm.defaults(entries)
    if not any(is_twilio(entry["name"]) for entry in entries):
        entries.append({"name": TWILIO, "version": twilio_version() or "*"})
    return entries


def dependencies_field(entries: list[dict[str, str]]) -> str:
    """``Dependencies`` as Twilio's toolkit sends it: the compact JSON list wrapped in one
    literal pair of double quotes (``declared_dependencies`` reads it with or without them)."""
    return '"' + json.dumps(entries, separators=(",", ":"), ensure_ascii=False) + '"'


_COMMENT = re.compile(r"(^|\s)#.*$")


def without_comment(line: str) -> str:
    """A requirements line as pip reads it: "#" starts a comment at the line's start or after
    white space only, so a URL's fragment ("pkg @ https://host/pkg.whl#sha256=...") stays."""
    return _COMMENT.sub("", line).strip()


def requirements_entries(text: str) -> list[dict[str, str]]:
    """requirements.txt as a build's Dependencies ``[{name, version}]``: extras stay with the
    name; the rest (specifier, ``@ URL``, ``; marker``) is the version, which
    ``requirement_line`` reads back as the line it was. A pip option or a line pip cannot read
    is a BuildFailure naming the line."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = without_comment(raw)
        if not line:
            continue
        if line.startswith("-"):
            raise BuildFailure(
                f"requirements.txt line {number}: {line!r} is a pip option; a build takes "
                "package requirements only (the server chooses the index: CALLBOX_INDEX_URL)."
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise BuildFailure(
                f"requirements.txt line {number}: cannot read {line!r} ({exc}); write one "
                "'name' or 'name<specifier>' per line (e.g. requests[socks]>=2.31)."
            ) from None
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        spec = f"@ {requirement.url}" if requirement.url else str(requirement.specifier)
        if requirement.marker is not None:
            spec += f"{' ' if requirement.url else ''}; {requirement.marker}"
        found.append({"name": requirement.name + extras, "version": spec})
    return found


def _entries(text: str) -> list[dict[str, str]]:
    try:
        entries = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise BuildFailure(
            f"Dependencies must be a JSON array of name/version objects such as {EXAMPLE}; "
            f"found text that is not JSON ({exc.msg} at character {exc.pos})."
        ) from None
    if not isinstance(entries, list):
        raise BuildFailure(
            f"Dependencies must be a JSON array of name/version objects such as {EXAMPLE}; "
            f"found a JSON {_json_type(entries)}."
        )
    written: list[dict[str, str]] = []
    for index, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("version"), str)
        ):
            shown = json.dumps(entry)
            shown = shown if len(shown) <= 100 else shown[:97] + "..."
            raise BuildFailure(
                f"Dependencies[{index}] must be an object with a string name and a string "
                f'version, such as {{"name": "requests", "version": "2.32.3"}}; found {shown}.'
            )
        written.append({"name": entry["name"].strip(), "version": entry["version"].strip()})
    return written


def requirement_line(name: str, version: str) -> str:
    """One pip requirement from a name (extras allowed) and a version: an exact version, a
    specifier set, ``*``/``latest``/empty (any), ``@ URL``, any of them with ``; marker``.
    Parsed with ``packaging`` and written back in its canonical form (one line, never an
    option), so one set of requirements always hashes alike."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name + version):
        raise BuildFailure(f"Dependency {name[:100]!r} holds a control character or line break.")
    try:
        named = Requirement(name)
    except InvalidRequirement:
        named = None
    if named is None or named.specifier or named.marker or named.url:
        raise BuildFailure(
            f"Dependency name {name[:100]!r} is not a Python package name: use letters, "
            "digits, '.', '_' and '-', starting and ending with a letter or digit, and "
            "optionally extras in brackets, as in requests[socks]."
        )
    spec = version
    if spec.lower() in _ANY_VERSION:
        spec = ""
    elif _EXACT_START.match(spec):
        spec = "==" + spec
    elif spec.startswith(("@", ";")):
        spec = " " + spec
    try:
        parsed = Requirement(name + spec)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise BuildFailure(
            f"Dependency {name} has version {version!r}, which is not a version or a version "
            f"range pip can read ({reason}); use for example 1.2.0, >=1.2, *, "
            "'@ https://host/pkg.whl' or '>=1.2; python_version >= \"3.12\"'."
        ) from None
    return canonical_line(parsed)


def canonical_line(requirement: Requirement) -> str:
    extras = sorted(canonicalize_name(extra) for extra in requirement.extras)
    line = canonicalize_name(requirement.name) + (f"[{','.join(extras)}]" if extras else "")
    line += f" @ {requirement.url}" if requirement.url else str(requirement.specifier)
    if requirement.marker is not None:
        line += f"; {requirement.marker}" if not requirement.url else f" ; {requirement.marker}"
    return line


def canonical_name(name: str) -> str:
    """PEP 503: "Foo_Bar" and "foo-bar" are one project, so one cached environment."""
    base, bracket, extras = name.partition("[")
    base = canonicalize_name(base.strip())
    if not bracket:
        return base
    names = sorted(canonical_name(e.strip()) for e in extras.rstrip("]").split(",") if e.strip())
    return f"{base}[{','.join(names)}]"


def is_twilio(name: str) -> bool:
    """Whether a dependency names the twilio library the runtime provides (extras or not)."""
    try:
        return canonicalize_name(Requirement(name).name) == TWILIO
    except InvalidRequirement:
        return False


def twilio_version() -> str | None:
    """The version of the twilio library the server (and so every worker) runs; None if unknown."""
    try:
        return metadata.version(TWILIO)
    except metadata.PackageNotFoundError:  # a broken install
        return None


def _json_type(value: object) -> str:
    names = {dict: "object", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
