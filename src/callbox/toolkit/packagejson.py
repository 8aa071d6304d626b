"""A JavaScript project's package.json, as Twilio's toolkit reads it: the service name (``name``)
and the build's dependencies (``dependencies``, as ``[{name, version}]``, an empty version being
``*``), with its check of ``@twilio/runtime-handler`` (an exact version, never only a
devDependency) done before anything is uploaded."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from callbox.rules import EXACT_NPM_VERSION, RUNTIME_HANDLER
from callbox.toolkit.errors import PackageJsonError

FILE_NAME = "package.json"
# The exact version suggested for a range (what `callbox init --language js` writes).
RUNTIME_HANDLER_VERSION = "2.0.3"
_COERCE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def read(root: Path) -> dict[str, Any] | None:
    """The project's package.json as an object; None when there is none."""
    file = root / FILE_NAME
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PackageJsonError(
            f"{file} is not UTF-8 text ({exc.reason} at byte {exc.start})."
        ) from None
    except json.JSONDecodeError as exc:
        raise PackageJsonError(
            f"{file} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if not isinstance(data, dict):
        raise PackageJsonError(f"{file} must hold a JSON object; found {type(data).__name__}.")
    return data


def name(root: Path) -> str | None:
    """The ``name`` field (Twilio's default service name), when it is a non-empty string."""
    data = read(root)
    value = data.get("name") if data else None
    return value if isinstance(value, str) and value else None


def dependencies(root: Path) -> list[dict[str, str]]:
    """``dependencies`` as a build's Dependencies: ``[{name, version}]`` in the file's order,
    ``*`` for an empty version (as Twilio's toolkit sends them)."""
    data = read(root)
    if data is None:
        return []
    declared = data.get("dependencies") or {}
    if not isinstance(declared, dict):
        raise PackageJsonError(
            f'{root / FILE_NAME}: "dependencies" must be an object of name -> version, such as '
            '{"axios": "^1.7.0"}.'
        )
    found = []
    for package, version in declared.items():
        if not isinstance(version, str):
            raise PackageJsonError(
                f'{root / FILE_NAME}: the version of "{package}" must be a string such as '
                f'"^1.2.0"; found {json.dumps(version)}.'
            )
        found.append({"name": package, "version": version or "*"})
    check_runtime_handler(root, data)
    return found


def check_runtime_handler(root: Path, data: dict[str, Any]) -> None:
    """Twilio's rule: ``@twilio/runtime-handler`` is absent, or an exact version in
    ``dependencies``."""
    declared = data.get("dependencies") or {}
    version = declared.get(RUNTIME_HANDLER) if isinstance(declared, dict) else None
    dev = data.get("devDependencies")
    if version is None:
        if isinstance(dev, dict) and RUNTIME_HANDLER in dev:
            raise PackageJsonError(
                f"Wrongly configured {RUNTIME_HANDLER} declaration: {root / FILE_NAME} lists it "
                'in "devDependencies"; move it to "dependencies" (the build provides it).'
            )
        return
    if isinstance(version, str) and EXACT_NPM_VERSION.match(version):
        return
    raise PackageJsonError(
        f"Invalid {RUNTIME_HANDLER} version in {root / FILE_NAME}: it must be an exact version; "
        f'found "{version}". Use "{_suggested(version)}".'
    )


def _suggested(version: object) -> str:
    match = _COERCE.search(version) if isinstance(version, str) else None
    if match is None:
        return RUNTIME_HANDLER_VERSION
    major, minor, patch = (part or "0" for part in match.groups())
    return f"{major}.{minor}.{patch}"
