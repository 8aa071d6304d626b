"""The error family: stable codes, HTTP statuses, one JSON shape."""

from __future__ import annotations

import json

import pytest

from callbox.errors import (
    BadRequest,
    CallboxError,
    Forbidden,
    FunctionError,
    HeadersTooLarge,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TimedOut,
    TooManyRequests,
)

FAMILY = [
    (BadRequest, 400, 20001),
    (Forbidden, 403, 80625),
    (NotFound, 404, 20404),
    (MethodNotAllowed, 405, 20405),
    (PayloadTooLarge, 413, 82007),
    (TooManyRequests, 429, 20429),
    (HeadersTooLarge, 431, 82008),
    (FunctionError, 500, 82005),
    (TimedOut, 504, 82006),
]


@pytest.mark.parametrize(("cls", "status", "code"), FAMILY, ids=lambda v: getattr(v, "__name__", v))
def test_status_and_code(cls: type[CallboxError], status: int, code: int) -> None:
    error = cls("something happened")
    assert issubclass(cls, CallboxError) and isinstance(error, Exception)
    assert (cls.status, cls.code) == (status, code)
    assert (error.status, error.code) == (status, code)
    assert error.message == str(error) == "something happened"


@pytest.mark.parametrize(("cls", "status", "code"), FAMILY, ids=lambda v: getattr(v, "__name__", v))
def test_to_dict_and_to_json_shape(cls: type[CallboxError], status: int, code: int) -> None:
    error = cls("what was expected, what was found, what to do")
    expected = {
        "code": code,
        "message": "what was expected, what was found, what to do",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    assert error.to_dict() == expected
    assert list(error.to_dict()) == ["code", "message", "more_info", "status"]
    assert isinstance(error.to_json(), bytes)
    assert json.loads(error.to_json()) == expected


def test_base_error_is_a_500() -> None:
    error = CallboxError("generic")
    assert (error.status, error.code) == (500, 82005)
    assert error.to_dict()["status"] == 500


def test_details_are_added_to_the_body() -> None:
    error = NotFound("missing", details={"path": "/x"})
    assert error.details == {"path": "/x"}
    assert error.to_dict() == {
        "code": 20404,
        "message": "missing",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
        "path": "/x",
    }


def test_no_details_by_default() -> None:
    assert BadRequest("x").details == {}


def test_non_ascii_messages_survive_json() -> None:
    error = BadRequest("Malformed body: “quoted” ☎")
    assert json.loads(error.to_json())["message"] == "Malformed body: “quoted” ☎"


def test_errors_can_be_raised_and_caught_as_the_family() -> None:
    with pytest.raises(CallboxError) as caught:
        raise TimedOut("runtime application timed out")
    assert caught.value.status == 504
