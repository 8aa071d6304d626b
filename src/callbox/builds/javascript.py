"""Check a Node.js build's functions without running them.

Two checks, both cheap and neither executes user code:

1. Syntax: every function file is compiled by ``node`` as Node's CommonJS loader compiles it
   (``vm.compileFunction`` with the module wrapper's parameters, in ``node/check.js``), which is
   what ``node --check`` does, for all files in one process. ES module syntax (``import``,
   ``export``) fails here as it would when the worker loads the file.
2. ``handler``: public and protected functions must export it. The source, comments removed, is
   searched for an assignment to ``exports.handler`` / ``module.exports.handler`` (or with
   brackets), ``Object.defineProperty(exports, 'handler', ...)`` (what TypeScript and Babel
   emit), or an object assigned to ``module.exports`` (or ``Object.assign``-ed to it) that
   names ``handler``.

What this cannot catch (the worker reports it at the first request instead, as a 500 that
names the file and what it found): a handler exported under a computed name
(``exports[name] = ...``), a ``handler`` that is not a function, an object assigned to
``module.exports`` that mentions ``handler`` without exporting it, code that throws while the
module loads, and a ``require`` of a package the build does not install.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from callbox.builds.validate import BuildFailure

CHECKER = Path(__file__).resolve().parent.parent / "node" / "check.js"
CHECK_TIMEOUT = 120  # seconds for all files: compiling is fast, a huge build is not

_EXPORTS = r"(?:\bmodule\s*\.\s*exports|\bexports)"
_HANDLER_ASSIGNED = re.compile(
    _EXPORTS + r"\s*(?:\.\s*handler\b|\[\s*(['\"`])handler\1\s*\])\s*=(?!=)"
)
_HANDLER_DEFINED = re.compile(
    r"\bObject\s*\.\s*defineProperty\s*\(\s*" + _EXPORTS + r"\s*,\s*(['\"`])handler\1"
)
_WHOLE_EXPORT = re.compile(
    r"\bmodule\s*\.\s*exports\s*=(?!=)|\bObject\s*\.\s*assign\s*\(\s*" + _EXPORTS
)
_NAMED_EXPORT = re.compile(_EXPORTS + r"\s*\.\s*([A-Za-z_$][\w$]*)\s*=(?!=)")


def check_functions(functions: list[tuple[str, str, Path]], node: str) -> list[str]:
    """Problems of ``functions`` ((route path, visibility, file) each), one message per file;
    an empty list when all pass."""
    if not functions:
        return []
    problems: list[str] = []
    texts: dict[Path, str] = {}
    for path, _visibility, file in functions:
        data = file.read_bytes()
        try:
            texts[file] = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(
                f"Function {path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                f"{exc.start}); save it as UTF-8."
            )
    compiled = _compile(node, [file for file in texts])
    for path, visibility, file in functions:
        if file not in texts:
            continue
        outcome = compiled.get(str(file))
        if outcome is not None and not outcome.get("ok"):
            line = int(outcome.get("line") or 0)
            where = f"line {line}: " if line else ""
            problems.append(f"Function {path} does not compile: {where}{outcome.get('message')}")
        elif visibility != "private" and not exports_handler(texts[file]):
            found = ", ".join(exported_names(texts[file])) or "nothing"
            problems.append(
                f"Function {path} does not export `handler`; found exports: {found}. Write "
                "`exports.handler = function (context, event, callback) { ... }` (or async)."
            )
    return problems


def _compile(node: str, files: list[Path]) -> dict[str, dict[str, Any]]:
    if not files:
        return {}
    try:
        done = subprocess.run(
            [node, str(CHECKER), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        raise BuildFailure(
            f"Checking the functions' syntax took longer than {CHECK_TIMEOUT} s; "
            "split the build or make its files smaller."
        ) from None
    try:
        results = json.loads(done.stdout)
    except ValueError:
        detail = (done.stderr or done.stdout).strip()[-500:]
        raise BuildFailure(f"node could not check the functions' syntax: {detail}") from None
    return {str(r["file"]): r for r in results}


def exports_handler(source: str) -> bool:
    code = strip_comments(source)
    if _HANDLER_ASSIGNED.search(code) or _HANDLER_DEFINED.search(code):
        return True
    whole = _WHOLE_EXPORT.search(code)
    return whole is not None and re.search(r"\bhandler\b", code[whole.start() :]) is not None


def exported_names(source: str) -> list[str]:
    return sorted({m.group(1) for m in _NAMED_EXPORT.finditer(strip_comments(source))})


def strip_comments(source: str) -> str:
    """The source without ``//`` and ``/* */`` comments; strings are kept whole (a comment
    marker inside a string is not a comment). Regular expression literals are not told apart
    from division, so a quote inside one may hide what follows: the check then errs on the
    side of a clear failure message, never of running code."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in "'\"`":
            end = i + 1
            while end < n and source[end] != ch:
                end += 2 if source[end] == "\\" else 1
            out.append(source[i : end + 1])
            i = end + 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            out.append(" ")
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
