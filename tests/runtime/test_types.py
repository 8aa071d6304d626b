"""Types for function authors (callbox.runtime.types, py.typed): a handler annotated with them
passes ``mypy --strict``, mistakes are reported, and the annotated handlers run as they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import callbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "worker"))
from harness import WorkerProcess, build_spec  # noqa: E402 - the worker tests' harness

TYPED = Path(__file__).resolve().parent.parent / "functions" / "typed"


def mypy(*files: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=TYPED,  # not the project's folder: its [tool.mypy] settings are not the user's
        timeout=300,
    )


def test_the_package_says_it_is_typed() -> None:
    assert (Path(callbox.__file__).parent / "py.typed").is_file()


def test_annotated_handlers_pass_mypy_strict(tmp_path: Path) -> None:
    done = mypy(
        TYPED / "functions" / "good.py", TYPED / "functions" / "good_async.py", cache=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mistakes_are_type_errors(tmp_path: Path) -> None:
    done = mypy(TYPED / "functions" / "bad.py", cache=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["9", "10", "11"], done.stdout
    assert '"Response" has no attribute "set_statuscode"' in errors[0]
    assert "Too many arguments" in errors[1]
    assert 'Unexpected keyword argument "error"' in errors[2]


def test_the_annotated_handlers_run() -> None:
    worker = WorkerProcess("python", build_spec(TYPED, "python"))
    try:
        header, body = worker.invoke("/good", {"name": "Ada"})
        assert header["status"] == 201
        assert ["X-Greeting", "Ada"] in header["headers"]
        seen = json.loads(body)
        assert seen["message"] == "Hello, Ada!" and 0 < seen["left_ms"] <= 10_000
        header, body = worker.invoke("/good_async")
        assert header["status"] == 200 and json.loads(body) == {"domain": "unit.test:8080"}
    finally:
        worker.close()


def test_the_python_templates_use_the_types_and_pass_mypy_strict(tmp_path: Path) -> None:
    toolkit = Path(callbox.__file__).parent / "toolkit"
    files = sorted(
        f
        for f in [
            *toolkit.glob("templates/*/functions/*.py"),
            *toolkit.glob("scaffold/functions/**/*.py"),
        ]
        if "def handler" in f.read_text()
    )
    assert len(files) >= 12
    for file in files:
        assert "callback: Callback" in file.read_text(), file
    done = subprocess.run(
        # The twilio library ships no type information: its names are Any here.
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--ignore-missing-imports",
            "--allow-subclassing-any",
            "--cache-dir",
            str(tmp_path),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
