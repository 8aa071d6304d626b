"""Param: one declaration, read with Twilio's errors and written as JSON Schema; the two agree."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.datastructures import FormData, QueryParams

from callbox.api.params import Param, Params, read_args
from callbox.api.render import MAX_PAGE, PAGING
from callbox.errors import BadRequest


def form(*items: tuple[str, Any]) -> Params:
    return Params(FormData(list(items)))


def query(text: str) -> Params:
    return Params(QueryParams(text), "query string")  # type: ignore[arg-type]


def refused(param: Param, source: Params) -> str:
    with pytest.raises(BadRequest) as caught:
        param.read(source)
    return caught.value.message


def test_required_missing_and_empty() -> None:
    name = Param("FriendlyName", required=True, max_length=5)
    assert refused(name, form()) == "Missing required parameter FriendlyName in the post body"
    assert refused(name, form(("FriendlyName", ""))) == refused(name, form())
    assert name.read(form(("FriendlyName", "abcde"))) == "abcde"
    assert refused(name, form(("FriendlyName", "abcdef"))) == (
        "Parameter FriendlyName is too long: at most 5 characters, found 6"
    )
    assert name.schema() == {
        "type": "string",
        "minLength": 1,
        "maxLength": 5,
        "pattern": r"^(?![\s\S]*\x00)",  # free text: anything but a NUL
    }
    assert refused(name, form(("FriendlyName", "a\x00b"))) == (
        "Parameter FriendlyName contains a NUL character (\\x00); remove it."
    )


def test_what_empty_means() -> None:
    absent = Param("DomainSuffix", pattern="[a-z]+", empty="absent", default="none")
    assert absent.read(form(("DomainSuffix", ""))) == "none"
    assert absent.read(form()) == "none"
    assert absent.schema()["pattern"] == "^(?:[a-z]+)?$"
    value = Param("Value", required=True, empty="value")
    assert value.read(form(("Value", ""))) == ""
    assert refused(value, form()) == "Missing required parameter Value in the post body"
    assert "minLength" not in value.schema()
    # Not required, yet empty is missing: an update may leave it out but not blank it.
    optional = Param("FriendlyName", empty="missing")
    assert optional.read(form()) is None
    assert "Missing required parameter FriendlyName" in refused(
        optional, form(("FriendlyName", ""))
    )


def test_pattern_enum_and_messages() -> None:
    key = Param("Key", pattern="[A-Za-z_][A-Za-z0-9_]*", invalid="Key {value!r} is invalid")
    assert key.read(form(("Key", "API_KEY"))) == "API_KEY"
    for bad in ("1x", "a-b", "é", "x\n"):  # the whole value, ASCII classes: no "\n" before $
        assert refused(key, form(("Key", bad))) == f"Key {bad!r} is invalid"
    assert key.schema()["pattern"] == "^(?:[A-Za-z_][A-Za-z0-9_]*)$"
    level = Param("Level", enum=("a", "b", "c"))
    assert (
        refused(level, form(("Level", "d")))
        == "Parameter Level must be one of a, b or c; found 'd'."
    )
    assert level.schema()["enum"] == ["a", "b", "c"]


def test_bytes_are_checked_and_described() -> None:
    value = Param("Value", max_bytes=4, too_long="{found:,} bytes; at most {limit}")
    assert value.read(form(("Value", "éé"))) == "éé"
    assert refused(value, form(("Value", "ééé"))) == "6 bytes; at most 4"
    schema = value.schema()
    assert schema["maxLength"] == 4 and "At most 4 bytes (UTF-8)." in schema["description"]


def test_booleans_as_the_sdks_send_them() -> None:
    flag = Param("UiEditable", "boolean", default=False)
    assert flag.read(form()) is False
    for word, meaning in (("true", True), ("True", True), ("FALSE", False), ("false", False)):
        assert flag.read(form(("UiEditable", word))) is meaning
    for bad in ("1", "0", "yes", "no", " true", ""):
        assert refused(flag, form(("UiEditable", bad))) == (
            f"Parameter UiEditable must be true or false; found {bad!r}"
        )
    assert flag.schema() == {"type": "boolean", "default": False}


def test_paging_numbers() -> None:
    args = read_args(PAGING, query(""))
    assert args == {"PageSize": 50, "Page": 0, "PageToken": None}
    assert read_args(PAGING, query("PageSize=5000&Page=&PageToken="))["PageSize"] == 1000
    size, page, token = PAGING
    for text, message in (
        ("PageSize=0", "PageSize must be between 1 and 1000; found 0"),
        ("PageSize=-1", "PageSize must not be negative; found -1"),
        ("PageSize=%2B5", "PageSize must be a whole number; found '+5'"),
        ("PageSize=%205", "PageSize must be a whole number; found ' 5'"),
        ("PageSize=1_0", "PageSize must be a whole number; found '1_0'"),
        ("PageSize=%D9%A5", "PageSize must be a whole number; found '٥'"),
    ):
        assert refused(size, query(text)) == message, text
    assert refused(page, query(f"Page={MAX_PAGE + 1}")).startswith(f"Page {MAX_PAGE + 1} is out")
    assert page.read(query(f"Page={MAX_PAGE}")) == MAX_PAGE
    assert size.schema()["minimum"] == 1 and "maximum" not in size.schema()
    assert "read as 1000" in size.schema()["description"]
    assert page.schema()["maximum"] == MAX_PAGE
    assert refused(token, query("PageToken=x")) == "PageToken 'x' is not one this server issued"


def test_lists() -> None:
    sids = Param("FunctionVersions", "list", pattern="ZN[0-9a-f]{2}", empty="absent", unique=True)
    assert sids.read(form()) == []
    assert sids.read(form(("FunctionVersions", ""), ("FunctionVersions", "ZN0a"))) == ["ZN0a"]
    assert "listed twice" in refused(
        sids, form(("FunctionVersions", "ZN0a"), ("FunctionVersions", "ZN0a"))
    )
    assert "does not match" in refused(sids, form(("FunctionVersions", "ZNxx")))
    assert sids.schema() == {
        "type": "array",
        "items": {"type": "string", "pattern": "^(?:ZN[0-9a-f]{2})?$"},
        "uniqueItems": True,
    }


def test_check_decides_pattern_and_enum_and_sees_the_default() -> None:
    seen: list[Any] = []

    def check(raw: str | None) -> str:
        seen.append(raw)
        if raw is not None and raw.lower() not in ("a", "b"):
            raise BadRequest(f"not {raw}")
        return (raw or "a").lower()

    param = Param("Kind", enum=("a", "b"), max_length=3, check=check)
    assert param.read(form(("Kind", "B"))) == "b"  # letter case is the check's call
    assert param.read(form()) == "a" and seen[-1] is None
    assert refused(param, form(("Kind", "zz"))) == "not zz"
    assert "too long" in refused(param, form(("Kind", "abcd")))  # lengths stay declared


def test_files_and_text() -> None:
    content = Param("Content", "file", required=True)
    assert "multipart/form-data part named Content" in refused(content, form())
    assert "not a text field" in refused(content, form(("Content", "text")))
    assert content.schema() == {"type": "string", "format": "binary"}
    text = Param("Path", required=True)

    class Upload:  # any non-text value is a file part
        pass

    assert refused(text, form(("Path", Upload()))) == "Parameter Path must be text, not a file"


def test_refused_parameter() -> None:
    name = Param("UniqueName", refused="UniqueName cannot be changed.")
    assert name.read(form()) is None
    assert refused(name, form(("UniqueName", ""))) == "UniqueName cannot be changed."
    assert name.schema() == {"not": {}, "description": "UniqueName cannot be changed."}


def test_date_times() -> None:
    start = Param("StartDate", "date-time", empty="absent")
    assert start.read(query("StartDate=")) is None
    assert (
        str(start.read(query("StartDate=2026-01-31T12:00:00.500Z"))) == "2026-01-31 12:00:00.500000"
    )
    assert "ISO 8601" in refused(start, query("StartDate=yesterday"))
    assert start.schema()["format"] == "date-time"


@pytest.mark.parametrize(
    "param",
    [
        Param("A", required=True, max_length=3, pattern="[a-z]+"),
        Param("B", pattern="[a-z]+(?:-[a-z]+)*", empty="absent", max_length=6),
        Param("C", enum=("x", "yy"), empty="absent"),
    ],
)
def test_the_schema_admits_exactly_what_read_accepts(param: Param) -> None:
    schema = param.schema()
    samples = ["", "a", "ab", "abc", "abcd", "a-b", "a-", "-a", "A", "x", "yy", "a-b-cd", "ab-cde"]
    for sample in samples:
        try:
            param.read(form((param.name, sample)))
            accepted = True
        except BadRequest:
            accepted = False
        admitted = (
            len(sample) >= schema.get("minLength", 0)
            and len(sample) <= schema.get("maxLength", len(sample))
            and ("pattern" not in schema or re.search(schema["pattern"], sample) is not None)
            and ("enum" not in schema or sample in schema["enum"])
        )
        assert accepted == admitted, (param.name, sample)
