"""The variables a project sets (toolkit/variables.py; tests/api/test_variables.py is the
API's): the server's limits, said before any change and naming where the values came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbox.toolkit.errors import DeployError
from callbox.toolkit.variables import check_variables

ENV_FILE = Path("/project/.env")


@pytest.mark.parametrize(
    "values",
    [
        {"_private": "v", "A1": "v", "k" * 128: "v"},
        {"BIG": "x" * 450},
        {"UTF8": "é" * 225},  # 450 bytes
        {f"K{i}": "v" * 400 for i in range(7)},  # about 2.9 KB of JSON
        {},
    ],
    ids=["names", "value-at-the-limit", "utf8-at-the-limit", "total-under-3k", "none"],
)
def test_variables_within_the_limits_pass(values: dict[str, str]) -> None:
    check_variables(values, ENV_FILE)


@pytest.mark.parametrize(
    "key",
    [
        "1BAD",
        "a-b",
        "has space",
        "k" * 129,
        "",
        "KEY\n",  # "$" would let a final newline through
    ],
)
def test_a_name_that_cannot_be_a_variable_names_the_file(key: str) -> None:
    with pytest.raises(DeployError) as caught:
        check_variables({"OK": "v", key: "v"}, ENV_FILE)
    assert str(caught.value) == (
        f'{ENV_FILE}: "{key}" cannot be a variable name: use letters, digits and _, not starting '
        "with a digit, at most 128 characters."
    )


@pytest.mark.parametrize(("value", "size"), [("x" * 451, "451"), ("é" * 226, "452")])
def test_a_value_over_450_bytes_is_refused(value: str, size: str) -> None:
    with pytest.raises(DeployError) as caught:
        check_variables({"BIG": value}, ENV_FILE)
    assert str(caught.value) == (
        f"{ENV_FILE}: the value of BIG is {size} bytes; a variable holds at most 450 bytes. "
        "Keep large data in a private asset instead."
    )


def test_all_variables_over_3_kb_are_refused() -> None:
    values = {f"K{i}": "v" * 440 for i in range(7)}
    with pytest.raises(DeployError) as caught:
        check_variables(values, "--key/--value")
    assert str(caught.value) == (
        "--key/--value: all variables together are 3,150 bytes as JSON; an environment holds "
        "at most 3,072. Keep large data in a private asset instead."
    )
