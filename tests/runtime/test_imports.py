"""Code that runs inside worker processes (and the sandbox launcher that fences them) imports
only the standard library, callbox.runtime, callbox.worker and callbox.sandbox, and the
``twilio`` library lazily (inside functions). Checked with ``ast``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import callbox

PACKAGE = Path(callbox.__file__).resolve().parent
FOLDERS = ("runtime", "worker", "sandbox")
MODULES = sorted(path for folder in FOLDERS for path in (PACKAGE / folder).rglob("*.py"))
ALLOWED_CALLBOX = ("callbox.runtime", "callbox.worker", "callbox.sandbox")
# Imported only when used: the twilio library (by functions), debugpy (callbox start --inspect).
LAZY = ("twilio", "debugpy")
OUTSIDE = "only callbox.runtime, callbox.worker and callbox.sandbox may be imported here"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    # ``from callbox import errors`` imports callbox.errors: judge the full names.
    return [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]


def violations(source: str, name: str, is_package: bool = False) -> list[str]:
    """Every import in ``source`` that breaks the rule, as 'line N: name (why)'."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for imported in imported_names(child, package):
                    why = judge(imported, in_function)
                    if why:
                        found.append(f"line {child.lineno}: {imported} ({why})")
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, nested)

    visit(ast.parse(source), in_function=False)
    return found


def judge(imported: str, in_function: bool) -> str:
    top = imported.split(".")[0]
    if top == "__future__" or top in sys.stdlib_module_names:
        return ""
    if imported == "callbox" or any(
        imported == allowed or imported.startswith(allowed + ".") for allowed in ALLOWED_CALLBOX
    ):
        return ""
    if top in LAZY:
        return "" if in_function else f"{top} must be imported inside a function"
    if top == "callbox":
        return OUTSIDE
    return "not the standard library"


def test_there_are_modules_to_check() -> None:
    names = {module_name(path) for path in MODULES}
    assert {"callbox.runtime.context", "callbox.worker.loop", "callbox.worker.protocol"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_imports_only_what_a_worker_may(path: Path) -> None:
    name = module_name(path)
    assert violations(path.read_text(), name, path.name == "__init__.py") == []


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_rule_is_written_down_in_the_folder(folder: str) -> None:
    readme = (PACKAGE / folder / "README.md").read_text()
    assert "standard library" in readme
    assert "twilio" in readme
    assert "tests/runtime/test_imports.py" in readme


# --- the checker itself -----------------------------------------------------------------


def test_checker_accepts_the_allowed_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "import asyncio, json\n"
        "from collections.abc import Callable\n"
        "import callbox.runtime\n"
        "from callbox.worker import protocol\n"
        "from callbox.runtime.globals import Runtime\n"
        "from . import logs\n"
        "def lazy():\n"
        "    import twilio.rest\n"
        "    from twilio.twiml.voice_response import VoiceResponse\n"
        "class Lazy:\n"
        "    @property\n"
        "    def client(self):\n"
        "        from twilio.rest import Client\n"
        "        return Client\n"
    )
    assert violations(source, "callbox.worker.sample") == []


def test_checker_rejects_top_level_twilio_and_outside_packages() -> None:
    source = (
        "import twilio\n"
        "from twilio.rest import Client\n"
        "import dotenv\n"
        "from callbox.gateway import pool\n"
        "from callbox import errors\n"
        "from ..gateway import app\n"
        "class Eager:\n"
        "    from twilio.twiml import TwiML\n"
        "try:\n"
        "    import uvloop\n"
        "except ImportError:\n"
        "    pass\n"
        "def fine():\n"
        "    import httpx\n"
    )
    assert violations(source, "callbox.worker.sample") == [
        "line 1: twilio (twilio must be imported inside a function)",
        "line 2: twilio.rest.Client (twilio must be imported inside a function)",
        "line 3: dotenv (not the standard library)",
        f"line 4: callbox.gateway.pool ({OUTSIDE})",
        f"line 5: callbox.errors ({OUTSIDE})",
        f"line 6: callbox.gateway.app ({OUTSIDE})",
        "line 8: twilio.twiml.TwiML (twilio must be imported inside a function)",
        "line 10: uvloop (not the standard library)",
        "line 14: httpx (not the standard library)",
    ]
