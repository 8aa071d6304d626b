"""A Node.js build's dependencies: the ``Dependencies`` entries as npm specs, installed with npm
into a folder of their own (``<folder>/node_modules``), skipped when the set was installed.

As on Twilio, ``twilio`` and ``@twilio/runtime-handler`` are default dependencies: a build that
does not name them gets them. ``twilio`` is installed like any package (functions use the
build's own copy); the runtime handler is callbox itself, so it is checked (an exact version,
as Twilio requires) and never installed. Package install scripts run, inside the install's
sandbox (the same fences as uv's): that, not ``--ignore-scripts``, is what keeps them in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from callbox.builds.dependencies import (
    DependencyError,
    Installs,
    is_installed,
    mark_installed,
    readable_by_all,
    requirements_hash,
    sandboxed,
)
from callbox.builds.validate import TWILIO, BuildFailure, Dependencies
from callbox.config import Config, child_environment
from callbox.rules import EXACT_NPM_VERSION, RUNTIME_HANDLER
from callbox.sandbox.fences import Fences

# What a Node.js build gets when its Dependencies do not name them (Twilio's defaults).
DEFAULT_TWILIO = "^5.0.0"
DEFAULT_RUNTIME_HANDLER = "2.0.1"

# npm's rules for a package name (validate-npm-package-name): lower case for new packages, but
# old ones may have capitals; at most 214 characters, optionally under a scope.
_NAME = re.compile(r"^(?:@[A-Za-z0-9][A-Za-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*$")
MAX_NAME = 214
# Versions, ranges ("^1.2", ">=1 <2", "1.x || 2.x", "1.0.0 - 2.0.0") and dist-tags ("latest",
# "next"). No ':', '/' or '@': URLs, git, file: and aliases are not versions Twilio accepts.
_VERSION = re.compile(r"^[A-Za-z0-9.*+^~<>=| _-]*$")
EXAMPLE = '[{"name": "axios", "version": "^1.7.0"}]'


def parse(entries: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """(specs to install as ``name@version``, sorted; entries the runtime provides)."""
    chosen: dict[str, str] = {}
    provided: list[str] = []
    for entry in entries:
        name, version = entry["name"], entry["version"]
        if name == RUNTIME_HANDLER:
            if not EXACT_NPM_VERSION.match(version):
                raise BuildFailure(
                    f"{RUNTIME_HANDLER} needs an exact version such as {DEFAULT_RUNTIME_HANDLER};"
                    f" found {version!r}."
                )
            provided.append(f"{name}@{version}")
            continue
        if len(name) > MAX_NAME or not _NAME.match(name):
            raise BuildFailure(
                f"Dependency name {name[:100]!r} is not an npm package name: use lower-case "
                "letters, digits, '.', '_', '-' and '~', optionally under a @scope/, as in "
                "axios or @sendgrid/mail."
            )
        if not _VERSION.match(version):
            raise BuildFailure(
                f"Dependency {name} has version {version!r}, which is not an npm version, range "
                "or tag; use for example 1.7.2, ^1.7.0, ~1.7, >=1 <2, * or latest."
            )
        version = " ".join(version.split()) or "*"
        if chosen.get(name, version) != version:
            raise BuildFailure(
                f"Dependency {name} is listed twice, with versions {chosen[name]!r} and "
                f"{version!r}; keep one."
            )
        chosen[name] = version
    return sorted(f"{name}@{version}" for name, version in chosen.items()), provided


def defaults(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    """``entries`` with Twilio's default dependencies added where they are missing."""
    names = {entry["name"] for entry in entries}
    added = [
        {"name": name, "version": version}
        for name, version in ((TWILIO, DEFAULT_TWILIO), (RUNTIME_HANDLER, DEFAULT_RUNTIME_HANDLER))
        if name not in names
    ]
    return [*entries, *added]


def manifest(specs: list[str]) -> dict[str, object]:
    """The package.json npm installs from."""
    dependencies = {}
    for spec in specs:
        name, _, version = spec.rpartition("@")
        dependencies[name] = version
    return {"name": "callbox-build-dependencies", "private": True, "dependencies": dependencies}


def npm_command(node: str) -> list[str]:
    """How to run npm with the server's node: ``[node, npm-cli.js]`` (or npm's own launcher)."""
    found = shutil.which("npm")
    if found is None:
        raise DependencyError(
            "npm is not installed on this server (no `npm` on its PATH); it installs Node.js "
            "builds' dependencies. Install npm with Node.js, or build without dependencies."
        )
    real = os.path.realpath(found)
    return [node, real] if real.endswith(".js") else [real]


def npm_root(command: list[str]) -> str:
    """npm's own package folder (what an install must be able to read)."""
    script = command[-1]
    return os.path.dirname(os.path.dirname(script))


def install(
    dependencies: Dependencies,
    target: Path,
    config: Config,
    node: str,
    cache: Path | None,
    installs: Installs | None = None,
    fences: Fences | None = None,
) -> bool:
    """Install ``dependencies.install`` into ``target/node_modules``; False if already done.

    npm reads ``target/package.json`` (written here) and keeps its cache in ``cache`` (None:
    the user's own, for ``callbox start``).
    """
    specs = dependencies.install
    digest = requirements_hash(specs)
    if not specs or is_installed(target, digest):
        return False
    target.mkdir(parents=True, exist_ok=True)
    (target / "package.json").write_text(json.dumps(manifest(specs), indent=2) + "\n")
    command = [
        *npm_command(node),
        "install",
        "--prefix",
        str(target),
        "--omit=dev",
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
        "--loglevel=error",
    ]
    # --prefix also moves npm's global config (<prefix>/etc/npmrc): keep the server's, where
    # the machine's npm settings live (a registry, a CA file).
    global_config = Path(os.path.dirname(os.path.dirname(node))) / "etc" / "npmrc"
    if global_config.is_file():
        command += ["--globalconfig", str(global_config)]
    env = {**child_environment(), "npm_config_update_notifier": "false"}
    if cache is not None:
        command += ["--cache", str(cache)]
        env["npm_config_cache"] = str(cache)
    if config.npm_registry:
        command += ["--registry", config.npm_registry]
    if fences is not None:
        command, env = sandboxed(command, env, target, digest, fences)
    returncode, detail = (installs or Installs()).run(command, env)
    if returncode != 0:
        raise DependencyError(f"npm could not install {', '.join(specs)}:\n{detail}")
    readable_by_all(target)
    mark_installed(target, digest)
    return True
