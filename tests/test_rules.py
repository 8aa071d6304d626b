"""rules.py: the rules the API, the builder and the toolkit all check, in one place."""

from __future__ import annotations

import pytest

from callbox import rules


@pytest.mark.parametrize(
    ("kind", "visibility", "limit"),
    [
        ("function", "public", rules.MAX_FUNCTION_BYTES),
        ("function", "private", rules.MAX_FUNCTION_BYTES),  # a function's visibility: no matter
        ("asset", "public", rules.MAX_ASSET_BYTES),
        ("asset", "protected", rules.MAX_ASSET_BYTES),
        ("asset", "private", rules.MAX_PRIVATE_ASSET_BYTES),
    ],
)
def test_max_bytes_by_kind_and_visibility(kind: str, visibility: str, limit: int) -> None:
    assert rules.max_bytes(kind, visibility) == limit


def test_too_many_assets_counts_each_visibility_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "MAX_ASSETS", {"public": 2, "protected": 2, "private": 1})

    assert rules.too_many_assets([]) is None
    assert rules.too_many_assets(["public", "public", "protected", "protected", "private"]) is None
    assert rules.too_many_assets(["private", "public", "private"]) == ("private", 2)
    # The first visibility over its limit, in the order of MAX_ASSETS.
    assert rules.too_many_assets(["private"] * 2 + ["public"] * 3) == ("public", 3)


@pytest.mark.parametrize(
    ("runtime", "language"),
    [
        *[(name, "python") for name in rules.PYTHON_RUNTIMES],
        *[(name, "node") for name in rules.NODE_RUNTIMES],
        ("node16", "node"),  # by its name: whether it is supported is another question
        ("ruby3", None),
        ("", None),
    ],
)
def test_runtime_language(runtime: str, language: str | None) -> None:
    assert rules.runtime_language(runtime) == language


def test_the_default_python_runtime_is_one_of_the_runtimes() -> None:
    assert rules.DEFAULT_PYTHON_RUNTIME in rules.PYTHON_RUNTIMES
    assert (*rules.PYTHON_RUNTIMES, *rules.NODE_RUNTIMES) == rules.RUNTIMES


@pytest.mark.parametrize(
    ("version", "exact"),
    [("2.0.1", True), ("1.1.0-rc.1", True), ("1.0.0+build.5", True)]
    + [("^2.0.0", False), ("2.0", False), ("latest", False), ("v2.0.1", False)],
)
def test_the_runtime_handler_takes_an_exact_npm_version(version: str, exact: bool) -> None:
    assert (rules.EXACT_NPM_VERSION.match(version) is not None) == exact
