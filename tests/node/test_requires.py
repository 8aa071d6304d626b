"""The Node.js worker requires only Node built-ins (with the `node:` prefix) and its own modules;
the build's `twilio` is resolved at run time, never by a literal require here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import callbox

FOLDER = Path(callbox.__file__).resolve().parent / "node"
MODULES = sorted(FOLDER.glob("*.js"))
REQUIRE = re.compile(r"""\brequire\(\s*(['"])(?P<name>[^'"]+)\1\s*\)""")


def violations(source: str, own: set[str]) -> list[str]:
    """Every literal require that breaks the rule, as 'line N: name'."""
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        for match in REQUIRE.finditer(line):
            name = match["name"]
            if name.startswith("node:") or (name.startswith("./") and name[2:] in own):
                continue
            found.append(f"line {number}: {name}")
    return found


def test_there_are_modules_to_check() -> None:
    assert {"worker.js", "protocol.js", "loop.js", "response.js"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_requires_only_built_ins_and_its_siblings(path: Path) -> None:
    assert violations(path.read_text(), {m.stem for m in MODULES}) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_valid_javascript(path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    checked = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_rule_is_written_down_in_the_folder() -> None:
    readme = (FOLDER / "README.md").read_text()
    assert "Node.js built-ins" in readme
    assert "twilio" in readme
    assert "tests/node/test_requires.py" in readme


def test_checker_rejects_packages_and_unknown_files() -> None:
    source = (
        "const fs = require('node:fs');\n"
        "const own = require('./loop');\n"
        "const twilio = require('twilio');\n"
        'const bare = require("fs");\n'
        "const other = require('./elsewhere');\n"
    )
    assert violations(source, {"loop"}) == [
        "line 3: twilio",
        "line 4: fs",
        "line 5: ./elsewhere",
    ]
