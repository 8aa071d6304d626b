"""Whether this server can run a build's runtime, and what it runs it on (the runtimes' names
and their languages are ``callbox.rules``').

Python runtimes run on the server's own interpreter; Node.js runtimes on the ``node`` found on
the server's PATH. A build asking for a runtime newer than what runs here fails with a reason
(an older one runs on the newer interpreter, as Twilio moves Services forward).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from callbox.builds.validate import BuildFailure
from callbox.rules import NODE_RUNTIMES, RUNTIMES, RuntimeLanguage, runtime_language

Language = RuntimeLanguage

# A function version's language, from the Content-Type it was uploaded with; any other type
# (octet-stream, none) says nothing, and the build's runtime decides.
_NODE_TYPES = {
    "application/javascript",
    "application/x-javascript",
    "text/javascript",
    "application/node",
    "text/x-javascript",
}
_PYTHON_TYPES = {"text/x-python", "application/x-python", "text/x-script.python"}
EXTENSIONS: dict[Language, str] = {"python": ".py", "node": ".js"}


def language_of(runtime: str) -> Language:
    """The language a build of ``runtime`` runs; Python when the name says neither."""
    return runtime_language(runtime) or "python"


def version_language(content_type: str | None) -> Language | None:
    """The language a function version declares by its Content-Type; None if it does not."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _NODE_TYPES:
        return "node"
    if media in _PYTHON_TYPES:
        return "python"
    return None


def node_executable() -> str | None:
    """The ``node`` on the server's PATH (resolved through links), or None."""
    found = shutil.which("node")
    return os.path.realpath(found) if found else None


def node_prefix(executable: str) -> str:
    """Node's installation: the folder above its ``bin`` (``/usr`` for ``/usr/bin/node``)."""
    return os.path.dirname(os.path.dirname(os.path.realpath(executable)))


@functools.lru_cache(maxsize=8)
def _node_version(executable: str, _mtime: float) -> str:
    done = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=30, env={}
    )
    return done.stdout.strip().lstrip("v")


def node_version(executable: str | None = None) -> str | None:
    """``20.18.3`` for the server's node (or ``executable``); None when there is none."""
    executable = executable or node_executable()
    if executable is None:
        return None
    try:
        return _node_version(executable, os.stat(executable).st_mtime) or None
    except (OSError, subprocess.SubprocessError):
        return None


def newest_node_runtime() -> str | None:
    """The newest Node.js runtime this server can run (the default of a JavaScript project)."""
    version = node_version()
    if version is None:
        return None
    major = int(version.split(".")[0])
    usable = [r for r in NODE_RUNTIMES if int(r.removeprefix("node")) <= major]
    return usable[-1] if usable else None


def check_runtime(
    runtime: str,
    running: tuple[int, int] | None = None,
    node: str | None = None,
) -> str:
    """Fail unless ``runtime`` can run here; returns what it runs on ("Python 3.12.1")."""
    if runtime not in RUNTIMES:
        choices = ", ".join(RUNTIMES)
        raise BuildFailure(f"Runtime {runtime!r} is not supported; use one of {choices}.")
    if language_of(runtime) == "node":
        return _check_node(runtime, node if node is not None else node_version())
    running = running or (sys.version_info.major, sys.version_info.minor)
    wanted = tuple(int(part) for part in runtime.removeprefix("python").split("."))
    if wanted > running:
        have = ".".join(map(str, running))
        raise BuildFailure(
            f"{runtime} needs Python {'.'.join(map(str, wanted))}; this server runs Python {have}. "
            f"Build with an older runtime or run the server on a newer Python."
        )
    return f"Python {sys.version.split()[0]}" if running == sys.version_info[:2] else "Python"


def _check_node(runtime: str, version: str | None) -> str:
    if not version:
        raise BuildFailure(
            f"{runtime} needs Node.js, and this server has none: there is no `node` on its "
            "PATH. Install Node.js 18 or newer on the server, or build with a Python runtime."
        )
    wanted = int(runtime.removeprefix("node"))
    major = int(version.split(".")[0])
    if wanted > major:
        older = [r for r in NODE_RUNTIMES if int(r.removeprefix("node")) <= major]
        instead = f"build with {older[-1]}" if older else "build with a Python runtime"
        raise BuildFailure(
            f"{runtime} needs Node.js {wanted}; this server runs Node.js {version}. "
            f"{instead.capitalize()} or run the server with Node.js {wanted} on its PATH."
        )
    return f"Node.js {version}"
