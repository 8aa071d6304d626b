"""Loading a function file: the handler, or an error naming the file and what went wrong."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbox.runtime.globals import Runtime
from callbox.worker.loader import LoadError, display_path, load_handler

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_loader"
FUNCTIONS = ROOT / "functions"


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    """Every file of the scenario installed as a function, as a worker does at start."""
    saved = (Runtime._functions, Runtime._assets)
    files = {
        "/" + file.relative_to(FUNCTIONS).with_suffix("").as_posix(): str(file)
        for file in FUNCTIONS.rglob("*.py")
    }
    Runtime.install(files, {})
    yield
    Runtime._functions, Runtime._assets = saved
    for name in [n for n in sys.modules if n.startswith("callbox_functions.")]:
        del sys.modules[name]


def load_error(route: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load_handler(route, str(ROOT))
    return caught.value


def test_a_good_module_gives_its_handler() -> None:
    handler = load_handler("/ok", str(ROOT))
    assert handler(None, {}, None) == "loaded"


def test_the_module_is_imported_once_per_worker() -> None:
    first = load_handler("/ok", str(ROOT))
    assert load_handler("ok", str(ROOT)) is first


def test_missing_handler_names_the_file_and_what_the_module_defines() -> None:
    error = load_error("/missing_handler")
    assert error.message == str(error)
    assert error.message == (
        "functions/missing_handler.py has no `handler`; found: GREETING, Reply, handle, "
        "retries. Define `def handler(context, event, callback)` (or `async def`)."
    )
    # imported modules (json, os) and imported names (OrderedDict) are not "defined" here
    for imported in ("json", "os", "OrderedDict", "_PRIVATE", "Twilio", "Runtime", "Response"):
        assert imported not in error.message.split("found:")[1].split(".")[0]
    assert error.stack == ""


def test_missing_handler_in_a_subfolder_names_the_relative_path() -> None:
    error = load_error("/sub/nested")
    assert error.message.startswith("functions/sub/nested.py has no `handler`; found: ")
    assert "found: not_the_handler." in error.message


def test_missing_handler_in_an_empty_module_says_nothing_was_found() -> None:
    error = load_error("/empty")
    assert error.message.startswith("functions/empty.py has no `handler`; found: nothing.")


def test_missing_handler_lists_variables_holding_instances_of_imported_classes() -> None:
    error = load_error("/missing_handler_instances")
    assert "found: PATTERN, helper, log." in error.message


def test_a_handler_that_is_not_callable() -> None:
    error = load_error("/not_callable")
    assert error.message.startswith(
        "functions/not_callable.py has a `handler` that is not callable; found: handler."
    )
    assert "Define `def handler(context, event, callback)`" in error.message


def test_a_syntax_error_gives_the_message_and_line() -> None:
    error = load_error("/syntax_error")
    assert error.message.startswith("functions/syntax_error.py failed to import: SyntaxError: ")
    assert error.message.endswith("(line 5)")
    assert "SyntaxError" in error.stack
    assert isinstance(error.__cause__, SyntaxError)


def test_an_import_error_gives_the_exception_text() -> None:
    error = load_error("/import_error")
    assert error.message == (
        "functions/import_error.py failed to import: ModuleNotFoundError: "
        "No module named 'callbox_unit_no_such_module'"
    )
    assert "Traceback" in error.stack
    assert "import_error.py" in error.stack


def test_an_exception_at_import_time_is_reported_with_its_type() -> None:
    error = load_error("/raises_at_import")
    assert error.message == (
        "functions/raises_at_import.py failed to import: RuntimeError: "
        "configuration missing at import time"
    )
    # The function's own frames only: not callbox's loader or runtime.
    assert "raises_at_import.py" in error.stack
    assert "callbox/worker" not in error.stack and "callbox/runtime" not in error.stack


def test_a_failed_import_is_not_cached_and_fails_again() -> None:
    first = load_error("/import_error")
    second = load_error("/import_error")
    assert first.message == second.message
    assert "callbox_functions.import_error" not in sys.modules


def test_an_unknown_route_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_handler("/does/not/exist", str(ROOT))


def test_display_path_is_relative_to_root_or_unchanged_outside_it() -> None:
    assert display_path(str(ROOT / "functions" / "a.py"), str(ROOT)) == "functions/a.py"
    assert display_path("/elsewhere/a.py", str(ROOT)) == "/elsewhere/a.py"
