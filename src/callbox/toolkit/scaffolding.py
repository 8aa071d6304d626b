"""A new project from a bundled scaffold (what ``callbox init`` makes): Python (scaffold/, also
examples/quickstart) or JavaScript (scaffold-js/: the layout of Twilio's ``twilio
serverless:init``, with package.json, .twilioserverlessrc, .env and .gitignore), and the
default .twilioserverlessrc the scaffolds hold."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from callbox.toolkit.errors import InitError
from callbox.toolkit.project import Language
from callbox.toolkit.rcfile import SECTIONS

SCAFFOLD_DIR = Path(__file__).parent / "scaffold"
JS_SCAFFOLD_DIR = Path(__file__).parent / "scaffold-js"
PLACEHOLDER = "{{name}}"
# Files whose text mentions the project name.
_TEMPLATED_FILES = ("README.md", "package.json")
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_IGNORED_NAMES = frozenset({"__pycache__"})


def validate_name(name: str) -> None:
    if not name:
        raise InitError("project name must not be empty")
    # fullmatch so a trailing newline or path separator cannot sneak through.
    if not _NAME_RE.fullmatch(name):
        raise InitError(
            f"invalid project name {name!r}: use only letters, digits, dashes and underscores"
        )


def _ignore(_directory: str, names: Iterable[str]) -> set[str]:
    # Bytecode caches appear in the scaffold once its functions have been imported (tests, dev).
    return {name for name in names if name in _IGNORED_NAMES or name.endswith(".pyc")}


def init_project(
    name: str,
    parent: Path,
    *,
    account_sid: str | None = None,
    auth_token: str | None = None,
    empty: bool = False,
    language: Language = "python",
) -> Path:
    """Copy the scaffold of ``language`` to ``parent / name`` and return the new project
    directory.

    ``account_sid`` / ``auth_token`` go into its .env (as Twilio's ``init`` writes them);
    ``empty`` leaves the functions and assets folders without examples."""
    scaffold = JS_SCAFFOLD_DIR if language == "js" else SCAFFOLD_DIR
    validate_name(name)
    destination = Path(parent) / name
    if destination.exists() and not destination.is_dir():
        raise InitError(
            f"{destination} already exists and is not a directory; choose another name or remove it"
        )
    if destination.is_dir() and any(destination.iterdir()):
        raise InitError(
            f"{destination} already exists and is not empty; choose another name or remove it"
        )
    # dirs_exist_ok lets an existing empty directory (e.g. one the user just made) be used.
    shutil.copytree(scaffold, destination, ignore=_ignore, dirs_exist_ok=True)
    for relative in _TEMPLATED_FILES:
        path = destination / relative
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(PLACEHOLDER, name), encoding="utf-8")
    if account_sid or auth_token:
        _write_credentials(destination / ".env", account_sid or "", auth_token or "")
    if empty:
        for folder in ("functions", "assets"):
            shutil.rmtree(destination / folder)
            (destination / folder).mkdir()
    return destination


def _write_credentials(env_file: Path, account_sid: str, auth_token: str) -> None:
    """Fill the scaffold's commented ACCOUNT_SID= / AUTH_TOKEN= lines."""
    values = {"ACCOUNT_SID": account_sid, "AUTH_TOKEN": auth_token}
    lines = []
    for line in env_file.read_text(encoding="utf-8").splitlines():
        key = line.lstrip("# ").split("=", 1)[0]
        lines.append(f"{key}={values.pop(key)}" if key in values and "=" in line else line)
    lines.extend(f"{key}={value}" for key, value in values.items())
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- the default .twilioserverlessrc (the scaffold's copy is this text) --------------------


class RcFlag(NamedTuple):
    """One line of the default config file."""

    name: str  # camelCase, as Twilio's files spell it
    default: Any
    description: str


DEFAULT_FLAGS: tuple[RcFlag, ...] = (
    RcFlag("allowUnsigned", False, "start: serve protected files unsigned when no AUTH_TOKEN"),
    RcFlag("assets", True, "deploy: upload assets (false: functions only)"),
    RcFlag("assetsFolder", None, "Folder of assets. Default: assets/ or static/"),
    RcFlag("buildSid", None, "promote: the build to activate"),
    RcFlag("createEnvironment", False, "promote: create the target environment if missing"),
    RcFlag("env", None, "Path of the .env file. Default: .env in the project"),
    RcFlag("environment", "dev", "Domain suffix or ZE SID of the environment"),
    RcFlag("executionTimeout", None, "start: seconds a function may run. Default: 10"),
    RcFlag("extendedOutput", False, "list: show more details"),
    RcFlag("force", False, "Skip safety checks (e.g. deploy over another project's service)"),
    RcFlag("functionSid", None, "logs: only the logs of this function"),
    RcFlag("functions", True, "deploy: upload functions (false: assets only)"),
    RcFlag("functionsFolder", None, "Folder of functions. Default: functions/ or src/"),
    RcFlag("host", "127.0.0.1", "start: address to listen on"),
    RcFlag("loadSystemEnv", False, "Fill empty .env values from the system env; needs env"),
    RcFlag("logLevel", "info", "Level of log messages: debug, info, warn, error or none"),
    RcFlag("outputFormat", "", "Output format: '' (text) or 'json'"),
    RcFlag("overrideExistingProject", False, "deploy: reuse a service that has the same name"),
    RcFlag("port", 3000, "start: port to listen on"),
    RcFlag("production", False, "Use the production environment (no domain suffix)"),
    RcFlag("region", None, "Region of the API"),
    RcFlag("runtime", None, "deploy: node18/20/22 or python3.11/12/13. Default: the server's"),
    RcFlag("serviceName", None, "deploy: name of the service to create or reuse"),
    RcFlag("serviceSid", None, "SID of the service to deploy to"),
    RcFlag("sourceEnvironment", None, "promote: environment whose build is promoted"),
    RcFlag("tail", False, "logs: keep printing new log lines"),
    RcFlag("template", None, "new: the template to add"),
)

_HEADER = """\
// callbox config (JSON5: comments and trailing commas are fine). Uncomment a flag to use it;
// a flag typed on the command line still wins. Flags are camelCase, kebab-case or snake_case.
//   "commands":     flags for one command, e.g. {"deploy": {"force": true}}
//   "environments": flags for one environment suffix ("*" = production),
//                   e.g. {"stage": {"env": ".env.stage"}}
//   "projects":     flags for one account, "AC...:<region>" or "AC..." (region us1),
//                   e.g. {"AC0123...": {"serviceSid": "ZS0123..."}}
"""


def default_rc_text(flags: Iterable[RcFlag] = DEFAULT_FLAGS) -> str:
    """The ``.twilioserverlessrc`` that ``callbox init`` writes: every flag commented out."""
    pairs = [(f"{json.dumps(flag.name)}: {json.dumps(flag.default)}", flag) for flag in flags]
    width = max((len(pair) for pair, _ in pairs), default=0)
    lines = [_HEADER + "{", *(f'  "{section}": {{}},' for section in SECTIONS)]
    for pair, flag in pairs:
        if "*/" in flag.description:  # would end the comment early and break the file
            raise ValueError(f"description of {flag.name} contains '*/'")
        lines.append(f"  // {pair.ljust(width)} /* {flag.description} */,")
    return "\n".join([*lines, "}", ""])
