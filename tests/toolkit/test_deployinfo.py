""".twiliodeployinfo: Twilio's file, tab-indented, checked strictly, keyed by account and region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callbox.toolkit.deployinfo import FILE_NAME, DeployInfo, lookup, record

ACCOUNT = "AC" + "a" * 32
OTHER = "AC" + "b" * 32
SERVICE = "ZS" + "1" * 32
BUILD = "ZB" + "2" * 32
SERVICE_2 = "ZS" + "3" * 32
BUILD_2 = "ZB" + "4" * 32


def entry(service: str = SERVICE, build: str = BUILD) -> dict[str, str]:
    return {"serviceSid": service, "latestBuild": build}


def write(root: Path, data: Any) -> Path:
    path = root / FILE_NAME
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def read(root: Path) -> Any:
    return json.loads((root / FILE_NAME).read_text(encoding="utf-8"))


# --- Roundtrip and format ------------------------------------------------------------------


def test_file_name() -> None:
    assert FILE_NAME == ".twiliodeployinfo"


def test_missing_file_has_nothing(tmp_path: Path) -> None:
    assert lookup(tmp_path, ACCOUNT) is None
    assert lookup(tmp_path, ACCOUNT, "ie1") is None


def test_record_then_lookup(tmp_path: Path) -> None:
    assert record(tmp_path, ACCOUNT, None, SERVICE, BUILD) is True

    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)
    assert lookup(tmp_path, ACCOUNT, "us1") == DeployInfo(SERVICE, BUILD)
    assert lookup(tmp_path, OTHER) is None


def test_file_is_tab_indented_json_with_the_us1_key(tmp_path: Path) -> None:
    record(tmp_path, ACCOUNT, None, SERVICE, BUILD)

    assert (tmp_path / FILE_NAME).read_text(encoding="utf-8") == (
        "{\n"
        f'\t"{ACCOUNT}:us1": {{\n'
        f'\t\t"serviceSid": "{SERVICE}",\n'
        f'\t\t"latestBuild": "{BUILD}"\n'
        "\t}\n"
        "}\n"
    )


def test_a_new_deploy_replaces_the_entry_of_its_account(tmp_path: Path) -> None:
    record(tmp_path, ACCOUNT, None, SERVICE, BUILD)

    assert record(tmp_path, ACCOUNT, "us1", SERVICE_2, BUILD_2) is True

    assert read(tmp_path) == {f"{ACCOUNT}:us1": entry(SERVICE_2, BUILD_2)}


def test_other_accounts_are_kept(tmp_path: Path) -> None:
    record(tmp_path, OTHER, None, SERVICE_2, BUILD_2)
    record(tmp_path, ACCOUNT, None, SERVICE, BUILD)

    assert read(tmp_path) == {
        f"{OTHER}:us1": entry(SERVICE_2, BUILD_2),
        f"{ACCOUNT}:us1": entry(SERVICE, BUILD),
    }
    assert lookup(tmp_path, OTHER) == DeployInfo(SERVICE_2, BUILD_2)


def test_an_empty_object_is_a_valid_file(tmp_path: Path) -> None:
    write(tmp_path, {})

    assert lookup(tmp_path, ACCOUNT) is None
    assert record(tmp_path, ACCOUNT, None, SERVICE, BUILD) is True
    assert read(tmp_path) == {f"{ACCOUNT}:us1": entry()}


# --- Regions and the legacy key --------------------------------------------------------------


def test_regions_have_their_own_keys(tmp_path: Path) -> None:
    record(tmp_path, ACCOUNT, "us1", SERVICE, BUILD)
    record(tmp_path, ACCOUNT, "ie1", SERVICE_2, BUILD_2)

    assert read(tmp_path) == {
        f"{ACCOUNT}:us1": entry(SERVICE, BUILD),
        f"{ACCOUNT}:ie1": entry(SERVICE_2, BUILD_2),
    }
    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)
    assert lookup(tmp_path, ACCOUNT, "ie1") == DeployInfo(SERVICE_2, BUILD_2)
    assert lookup(tmp_path, ACCOUNT, "au1") is None


def test_legacy_key_is_read_as_a_fallback(tmp_path: Path) -> None:
    write(tmp_path, {ACCOUNT: entry()})

    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)
    assert lookup(tmp_path, ACCOUNT, "us1") == DeployInfo(SERVICE, BUILD)
    # Spec 7.8: "<account>:<region or us1>", then "<account>", for any region.
    assert lookup(tmp_path, ACCOUNT, "ie1") == DeployInfo(SERVICE, BUILD)
    assert lookup(tmp_path, OTHER) is None


def test_region_key_wins_over_the_legacy_key(tmp_path: Path) -> None:
    write(tmp_path, {ACCOUNT: entry(), f"{ACCOUNT}:us1": entry(SERVICE_2, BUILD_2)})

    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE_2, BUILD_2)


@pytest.mark.parametrize("region", [None, "us1"])
def test_legacy_key_is_removed_when_us1_is_rewritten(tmp_path: Path, region: str | None) -> None:
    write(tmp_path, {ACCOUNT: entry(), OTHER: entry()})

    assert record(tmp_path, ACCOUNT, region, SERVICE_2, BUILD_2) is True

    assert read(tmp_path) == {OTHER: entry(), f"{ACCOUNT}:us1": entry(SERVICE_2, BUILD_2)}


def test_legacy_key_is_kept_when_another_region_is_written(tmp_path: Path) -> None:
    write(tmp_path, {ACCOUNT: entry()})

    record(tmp_path, ACCOUNT, "ie1", SERVICE_2, BUILD_2)

    assert read(tmp_path) == {ACCOUNT: entry(), f"{ACCOUNT}:ie1": entry(SERVICE_2, BUILD_2)}


# --- A service remembered before it has a build (issue 13) -------------------------------------


def test_a_service_is_remembered_before_its_first_build(tmp_path: Path) -> None:
    assert record(tmp_path, ACCOUNT, None, SERVICE, "") is True

    assert read(tmp_path) == {f"{ACCOUNT}:us1": entry(build="")}
    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, "")
    assert record(tmp_path, ACCOUNT, None, SERVICE, BUILD) is True
    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)


def test_remembering_the_same_service_again_keeps_its_build(tmp_path: Path) -> None:
    record(tmp_path, ACCOUNT, None, SERVICE, BUILD)

    assert record(tmp_path, ACCOUNT, None, SERVICE, "") is True
    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)
    # Read from the legacy key too, and then written under the region's key.
    write(tmp_path, {ACCOUNT: entry()})
    assert record(tmp_path, ACCOUNT, None, SERVICE, "") is True
    assert read(tmp_path) == {f"{ACCOUNT}:us1": entry()}


def test_another_service_replaces_the_entry_without_a_build(tmp_path: Path) -> None:
    record(tmp_path, ACCOUNT, None, SERVICE, BUILD)

    assert record(tmp_path, ACCOUNT, None, SERVICE_2, "") is True
    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE_2, "")


# --- Strict shape: anything else is treated as empty and left alone ----------------------------

INVALID = {
    "not-json": "{oops",
    "empty-file": "",
    "list": [entry()],
    "string": '"text"',
    "null": "null",
    "entry-not-object": {f"{ACCOUNT}:us1": SERVICE},
    "extra-key": {f"{ACCOUNT}:us1": {**entry(), "extra": "x"}},
    "missing-key": {f"{ACCOUNT}:us1": {"serviceSid": SERVICE}},
    "wrong-service-prefix": {f"{ACCOUNT}:us1": entry(service="ZB" + "1" * 32)},
    "wrong-build-prefix": {f"{ACCOUNT}:us1": entry(build="ZS" + "2" * 32)},
    "service-too-short": {f"{ACCOUNT}:us1": entry(service=SERVICE[:-1])},
    "build-too-long": {f"{ACCOUNT}:us1": entry(build=BUILD + "0")},
    "service-not-string": {f"{ACCOUNT}:us1": {"serviceSid": 1, "latestBuild": BUILD}},
    "build-null": {f"{ACCOUNT}:us1": {"serviceSid": SERVICE, "latestBuild": None}},
    "key-not-account": {"SK" + "a" * 32: entry()},
    "key-too-short": {ACCOUNT[:-1] + ":us1": entry()},
    "key-bad-region": {f"{ACCOUNT}:": entry()},
    # One bad entry spoils the whole file, even beside a good one.
    "one-bad-of-two": {f"{ACCOUNT}:us1": entry(), f"{OTHER}:us1": {"serviceSid": SERVICE}},
}


@pytest.mark.parametrize("content", INVALID.values(), ids=INVALID.keys())
def test_invalid_file_is_empty_and_left_as_it_is(tmp_path: Path, content: Any) -> None:
    path = write(tmp_path, content)
    before = path.read_bytes()

    assert lookup(tmp_path, ACCOUNT) is None
    assert lookup(tmp_path, OTHER) is None
    assert record(tmp_path, ACCOUNT, None, SERVICE_2, BUILD_2) is False

    assert path.read_bytes() == before


def test_a_file_that_is_not_utf8_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"\xff\xfe{")

    assert lookup(tmp_path, ACCOUNT) is None
    assert record(tmp_path, ACCOUNT, None, SERVICE, BUILD) is False
    assert path.read_bytes() == b"\xff\xfe{"


def test_a_valid_file_written_by_hand_with_spaces_is_read(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text(json.dumps({f"{ACCOUNT}:us1": entry()}, indent=4))

    assert lookup(tmp_path, ACCOUNT) == DeployInfo(SERVICE, BUILD)
    assert record(tmp_path, ACCOUNT, "ie1", SERVICE_2, BUILD_2) is True
    assert "\n\t" in (tmp_path / FILE_NAME).read_text()  # rewritten in Twilio's format
