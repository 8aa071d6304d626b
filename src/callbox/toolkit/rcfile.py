"""The toolkit's config file: find it, read it, pick the part for one command, merge with flags.

A project may hold its flags in a file, like Twilio's ``.twilioserverlessrc``::

    {
      "functionsFolder": "src",                            // every command
      "commands": {"deploy": {"force": true}},             // one command
      "environments": {"stage": {"env": ".env.stage"}},    // one environment ("*" = production)
      "projects": {"AC123...:ie1": {"serviceSid": "ZS..."}}  // one account (and region)
    }

``find_config`` walks up from the project folder, ``specialize`` flattens the sections for one
command, environment and account, and ``merge`` lays the flags the user typed over the result.
"""

from __future__ import annotations

import re
import stat
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import json5
import yaml
from click.core import ParameterSource

from callbox.toolkit.errors import RcError

SECTIONS = ("commands", "environments", "projects")
# Never taken from a file: secrets belong in .env or flags, and the rest only make sense typed.
DROPPED_KEYS = ("username", "password", "config", "key", "value", "show_values")
_JS_HINT = "use .twilioserverlessrc (JSON5), .twilioserverlessrc.yml or a [tool.callbox] table"
_JS_SUFFIXES = (".js", ".cjs", ".mjs")
# Searched in each folder, in cosmiconfig's order (package.json's place taken by pyproject.toml).
SEARCH_PLACES = (
    "pyproject.toml",
    ".twilioserverlessrc",
    ".twilioserverlessrc.json",
    ".twilioserverlessrc.yaml",
    ".twilioserverlessrc.yml",
    ".twilioserverlessrc.js",
    ".twilioserverlessrc.cjs",
    ".config/twilioserverlessrc",
    ".config/twilioserverlessrc.json",
    ".config/twilioserverlessrc.yaml",
    ".config/twilioserverlessrc.yml",
    ".config/twilioserverlessrc.js",
    ".config/twilioserverlessrc.cjs",
    "twilioserverless.config.js",
    "twilioserverless.config.cjs",
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_JSON5_ERROR = re.compile(r"^<string>:(\d+) (.*) at column (\d+)$")
# A config file holds flags: a few KB. Parsing is slow (JSON5 and YAML are pure Python; a 68 KB
# file adds ~0.9 s to every command), so a bigger file is refused before it is parsed.
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class RcFile:
    """A loaded config file: ``path`` is None when there is none; keys are snake_case."""

    path: Path | None
    data: dict[str, Any]

    @property
    def folder(self) -> Path | None:
        """The project folder the file speaks for (the parent of a ``.config/`` folder)."""
        if self.path is None:
            return None
        parent = self.path.parent
        return parent.parent if parent.name == ".config" else parent


def find_config(start: Path, explicit: Path | None = None, *, home: Path | None = None) -> RcFile:
    """Load ``explicit`` (``--config``), or the first config file from ``start`` up to ``home``."""
    if explicit is not None:
        path = Path(explicit).resolve()
        if not path.exists():
            raise RcError(f"Config file {path} does not exist; check the path given to --config.")
        if path.is_dir():
            raise RcError(f"Config file {path} is a folder; give --config the path of a file.")
        return RcFile(path, normalise(_load(path), path))
    stop = (home or Path.home()).resolve()
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        found = _find_in(candidate)
        if found is not None:
            return found
        if candidate == stop:  # a start outside home walks to the filesystem root instead
            break
    return RcFile(None, {})


def _find_in(folder: Path) -> RcFile | None:
    for place in SEARCH_PLACES:
        path = folder / place
        try:
            if not path.is_file():
                continue
        except OSError:  # e.g. a .config folder we may not enter: nothing to read there
            continue
        if place == "pyproject.toml":
            table = _callbox_table(path, _read_toml(path), required=False)
            if table is None:  # someone else's pyproject: keep looking
                continue
            return RcFile(path, normalise(table, path))
        return RcFile(path, normalise(_load(path), path))
    return None


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix in _JS_SUFFIXES:
        raise RcError(f"Config file {path} is JavaScript, which callbox cannot run; {_JS_HINT}.")
    if suffix in ("", ".json", ".json5"):
        return _read_json5(path)
    if suffix in (".yaml", ".yml"):
        return _read_yaml(path)
    if suffix == ".toml":
        return _callbox_table(path, _read_toml(path), required=True)
    raise RcError(
        f"Config file {path} has an unknown extension {suffix!r}; "
        "use .json5, .json, .yaml, .yml, .toml or no extension (JSON5)."
    )


def _read_text(path: Path) -> str:
    try:
        info = path.stat()
        if info.st_size > MAX_BYTES:  # before parsing: pure-Python JSON5 takes 72 s for 5 MB
            raise _too_big(path, f"{info.st_size:,} bytes")
        if stat.S_ISREG(info.st_mode):
            # utf-8-sig: editors on Windows like to start files with a byte-order mark.
            return path.read_text(encoding="utf-8-sig")
        # A pipe or device (--config /dev/stdin) has no size to check: read at most the limit.
        with path.open(encoding="utf-8-sig") as file:
            text = file.read(MAX_BYTES + 1)
        if len(text) > MAX_BYTES:
            raise _too_big(path, f"more than {MAX_BYTES:,} bytes")
        return text
    except UnicodeDecodeError as exc:
        raise RcError(
            f"Config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise RcError(f"Config file {path} cannot be read: {exc.strerror or exc}.") from None


def _too_big(path: Path, size: str) -> RcError:
    return RcError(
        f"Config file {path} is {size}, over the limit of {MAX_BYTES // 1024} KB: config files "
        "are small; keep only flags in it and move data to assets/ or .env."
    )


def _read_json5(path: Path) -> Any:
    text = _read_text(path)
    if not text.strip():
        return {}
    try:
        return json5.loads(text)
    except (ValueError, RecursionError) as exc:
        message = str(exc)
        match = _JSON5_ERROR.match(message)
        if match:
            line, what, column = match.groups()
            message = f"{what} at line {line}, column {column}"
        raise RcError(f"Config file {path} is not valid JSON5: {message}; fix the file.") from None


def _read_yaml(path: Path) -> Any:
    text = _read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if "alias" in str(getattr(exc, "context", "")):  # `*:` for production, unquoted
            where += ' (a bare * starts a YAML alias: write "*")'
        raise RcError(
            f"Config file {path} is not valid YAML: {problem}{where}; fix the file."
        ) from None
    return {} if data is None else data  # an empty YAML file is an empty config


def _read_toml(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RcError(f"Config file {path} is not valid TOML: {exc}; fix the file.") from None


def _callbox_table(path: Path, document: dict[str, Any], *, required: bool) -> Any:
    tool = document.get("tool")
    if isinstance(tool, dict) and "callbox" in tool:
        return tool["callbox"]
    if required:
        raise RcError(f"Config file {path} has no [tool.callbox] table; add one with your flags.")
    return None


def snake_case(name: str) -> str:
    """``functionsFolder`` and ``functions-folder`` -> ``functions_folder``."""
    return _CAMEL_BOUNDARY.sub("_", name).replace("-", "_").lower()


def normalise(data: Any, source: Path | str = "config") -> dict[str, Any]:
    """Check the shape and turn flag names into snake_case; section keys stay as written."""
    name = f"Config file {source}" if isinstance(source, Path) else f"The {source}"
    if not isinstance(data, Mapping):
        raise RcError(
            f"{name} must hold a mapping of settings at the top level; found {_kind(data)}."
        )
    result = _flags(data, name, "the top level", skip=SECTIONS)
    for section in SECTIONS:
        value = data.get(section)
        if value is None:  # `commands:` with nothing under it in YAML
            continue
        if not isinstance(value, Mapping):
            raise RcError(
                f"{name}: {section!r} must be a mapping of names to flags; found {_kind(value)}."
            )
        scoped: dict[str, dict[str, Any]] = {}
        for key, flags in value.items():
            where = f"{section}.{key}"
            if not isinstance(key, str):
                raise RcError(f"{name}: the key {key!r} in {section!r} must be a string; quote it.")
            if flags is None:
                flags = {}
            if not isinstance(flags, Mapping):
                raise RcError(
                    f"{name}: {where!r} must be a mapping of flags; found {_kind(flags)}."
                )
            scoped[key] = _flags(flags, name, repr(where))
        result[section] = scoped
    return result


def _flags(
    data: Mapping[Any, Any], name: str, where: str, skip: Collection[str] = ()
) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in data.items():
        if key in skip:
            continue
        if not isinstance(key, str):
            raise RcError(f"{name}: the key {key!r} in {where} must be a flag name; quote it.")
        snake = snake_case(key)
        if snake in spelled:
            raise RcError(
                f"{name}: {spelled[snake]!r} and {key!r} in {where} both set {snake}; keep one."
            )
        spelled[snake] = key
        flags[snake] = value
    return flags


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def environment_suffix(environment: str | None, production: bool = False) -> str:
    """The environment a command acts on: ``''`` for production (which beats any suffix)."""
    if production:
        return ""
    return "dev" if environment is None else environment


def specialize(
    rc: RcFile | dict[str, Any],
    command: str,
    *,
    environment: str | None = None,
    account_sid: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """The flags the file sets for one command; later layers win.

    Layers: top level, ``commands[command]``, ``environments[environment]`` (``"*"`` for the
    production environment ``''``; skipped when ``environment`` is None, as for ``start``),
    ``projects["<account_sid>:<region>"]`` or else ``projects[account_sid]`` (the plain key only
    for region ``us1`` or None).
    """
    data = normalise(rc.data if isinstance(rc, RcFile) else rc)
    result = {key: value for key, value in data.items() if key not in SECTIONS}
    result.update(data.get("commands", {}).get(command, {}))
    environments = data.get("environments", {})
    if environment is not None:
        result.update(environments.get("*" if environment == "" else environment, {}))
    if account_sid:
        projects = data.get("projects", {})
        regional = projects.get(f"{account_sid}:{region}") if region else None
        if regional is not None:
            result.update(regional)
        elif region in (None, "us1"):
            result.update(projects.get(account_sid, {}))
    for key in DROPPED_KEYS:
        result.pop(key, None)
    cwd = result.get("cwd")
    if isinstance(rc, RcFile) and rc.folder is not None and cwd is not None:
        if not isinstance(cwd, str):
            raise RcError(
                f"Config file {rc.path}: 'cwd' must be a path string; found {_kind(cwd)}."
            )
        # Relative to the file, not to where the command runs: a file found by walking upward
        # must name the same folder from every subfolder.
        result["cwd"] = str(rc.folder / cwd)
    return result


def merge(
    flags: dict[str, Any],
    given: Collection[str],
    config: dict[str, Any],
) -> dict[str, Any]:
    """Lay the flags over the config: a flag the user gave wins, then a config value, then the
    flag's default. Config keys that are not flags are kept; a config value of None counts as
    unset."""
    result = {key: value for key, value in config.items() if value is not None}
    for name, value in flags.items():
        if name in given or name not in result:
            result[name] = value
    return result


def given_names(ctx: click.Context) -> set[str]:
    """The parameters the user set (command line, env var or prompt): the ones ``merge`` keeps."""
    typed = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)
    return {name for name in ctx.params if ctx.get_parameter_source(name) in typed}
