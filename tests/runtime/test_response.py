"""Tests for callbox.runtime.response: Twilio.Response and callback result rendering."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from callbox.runtime.response import HttpResult, Response, is_twiml, render_error, render_success

DOMAIN = "example.callbox.dev"
TOO_OLD = HttpResult(
    400,
    [("Content-Type", "text/plain; charset=utf-8")],
    b"Cookies max-age cannot be greater than a day",
)


def header(result: HttpResult, name: str) -> list[str]:
    return [value for key, value in result.headers if key.lower() == name.lower()]


def cookies_of(response: Response, domain: str = DOMAIN) -> list[str]:
    return header(render_success(response, domain=domain), "Set-Cookie")


def http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


# --- Response: construction ---------------------------------------------------------


def test_new_response_defaults() -> None:
    response = Response()
    assert response.body is None
    assert response.status_code == 200
    assert response.headers == {"Set-Cookie": []}


def test_constructor_with_options_dict() -> None:
    response = Response(
        {"headers": {"A": "1", "B": "2", "C": "3"}, "body": "Error", "statusCode": 400}
    )
    assert response.status_code == 400
    assert response.body == "Error"
    assert response.headers == {"Set-Cookie": [], "A": "1", "B": "2", "C": "3"}


def test_constructor_with_keywords() -> None:
    response = Response(status_code=201, body={"ok": True}, headers={"X": "y"})
    assert response.status_code == 201
    assert response.body == {"ok": True}
    assert response.headers == {"Set-Cookie": [], "X": "y"}


def test_constructor_keywords_win_and_none_is_ignored() -> None:
    response = Response({"statusCode": 400, "body": "a"}, status_code=404, body=None)
    assert response.status_code == 404
    assert response.body == "a"
    assert Response({"statusCode": None}).status_code == 200


def test_constructor_normalises_set_cookie() -> None:
    assert Response(headers={"Set-Cookie": "Hi=Bye"}).headers == {"Set-Cookie": ["Hi=Bye"]}
    assert Response(headers={"set-cookie": "a=b"}).headers == {"Set-Cookie": ["a=b"]}


# --- Response: methods ---------------------------------------------------------------


def test_set_status_code() -> None:
    assert Response().set_status_code(418).status_code == 418


def test_set_body_twice() -> None:
    response = Response()
    response.set_body("Hello")
    assert response.body == "Hello"
    response.set_body({"data": "Something"})
    assert response.body == {"data": "Something"}


def test_set_headers_then_none_is_unchanged() -> None:
    response = Response()
    cors = {
        "Access-Control-Allow-Origin": "example.com",
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
    }
    response.set_headers(cors)
    expected = {"Set-Cookie": [], **cors}
    assert response.headers == expected
    response.set_headers(None)
    assert response.headers == expected
    response.set_headers("not a dict")  # type: ignore[arg-type]
    assert response.headers == expected


def test_set_headers_resets_previous_headers() -> None:
    response = Response().append_header("Old", "1").set_cookie("a", "b")
    response.set_headers({"New": "2"})
    assert response.headers == {"Set-Cookie": [], "New": "2"}


def test_set_headers_wraps_set_cookie_string() -> None:
    response = Response().set_headers({"Set-Cookie": "Hi=Bye"})
    assert response.headers == {"Set-Cookie": ["Hi=Bye"]}


@pytest.mark.parametrize("value", [{}, {"a": 1}])
def test_append_header_rejects_objects(value: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="^Header value cannot be an object$"):
        Response().append_header("X", value)


def test_append_header_lower_case_set_cookie() -> None:
    response = Response().append_header("set-cookie", "a=b").append_header("SET-COOKIE", "c=d")
    assert response.headers == {"Set-Cookie": ["a=b", "c=d"]}


def test_append_header_set_cookie_list_is_flattened() -> None:
    response = Response().append_header("Set-Cookie", ["a=b", "c=d"])
    assert response.headers["Set-Cookie"] == ["a=b", "c=d"]


def test_append_header_twice_makes_a_list() -> None:
    response = Response().append_header("Origin", "a.com").append_header("Origin", "b.com")
    assert response.headers["Origin"] == ["a.com", "b.com"]


def test_append_header_flattens_lists() -> None:
    response = (
        Response()
        .append_header("Allow", "GET")
        .append_header("Allow", "DELETE")
        .append_header("Allow", ["PUT", "POST"])
    )
    assert response.headers["Allow"] == ["GET", "DELETE", "PUT", "POST"]


def test_append_header_keys_are_case_sensitive() -> None:
    response = Response().append_header("X-A", "1").append_header("x-a", "2")
    assert response.headers == {"Set-Cookie": [], "X-A": "1", "x-a": "2"}


def test_append_header_first_value_stored_as_given() -> None:
    assert Response().append_header("X", ["a", "b"]).headers["X"] == ["a", "b"]
    assert Response().append_header("X", 5).headers["X"] == 5


def test_set_cookie_with_attributes() -> None:
    response = Response().set_cookie(
        "Hello", "World", ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=86400"]
    )
    assert response.headers["Set-Cookie"] == [
        "Hello=World;HttpOnly;Secure;SameSite=Strict;Max-Age=86400"
    ]


def test_set_cookie_without_attributes() -> None:
    response = Response().set_cookie("name", "value").set_cookie("other", "x y")
    assert response.headers["Set-Cookie"] == ["name=value", "other=x y"]


def test_remove_cookie() -> None:
    response = (
        Response()
        .set_cookie("name", "value", ["Path=/"])
        .set_cookie("names", "kept")
        .set_cookie("other", "x")
        .remove_cookie("name")
    )
    assert response.headers["Set-Cookie"] == ["names=kept", "other=x", "name=;Max-Age=0"]


def test_remove_cookie_when_absent() -> None:
    assert Response().remove_cookie("gone").headers["Set-Cookie"] == ["gone=;Max-Age=0"]


@pytest.mark.parametrize(
    ("snake", "camel", "args"),
    [
        ("set_status_code", "setStatusCode", (418,)),
        ("set_body", "setBody", ("body",)),
        ("append_header", "appendHeader", ("X", "y")),
        ("set_headers", "setHeaders", ({"X": "y"},)),
        ("set_headers", "setHeaders", (None,)),
        ("set_cookie", "setCookie", ("a", "b", ["Path=/"])),
        ("remove_cookie", "removeCookie", ("a",)),
    ],
)
def test_methods_are_chainable_in_both_spellings(
    snake: str, camel: str, args: tuple[Any, ...]
) -> None:
    first, second = Response(), Response()
    assert getattr(first, snake)(*args) is first
    assert getattr(second, camel)(*args) is second
    assert vars(first) == vars(second)


# --- render_success: plain payloads ------------------------------------------------


def test_render_none() -> None:
    assert render_success(None, domain=DOMAIN) == HttpResult(200, [], b"")


def test_render_str() -> None:
    result = render_success("héllo", domain=DOMAIN)
    assert result == HttpResult(
        200, [("Content-Type", "text/plain; charset=utf-8")], "héllo".encode()
    )


@pytest.mark.parametrize("payload", [b"\x00\xff", bytearray(b"\x00\xff"), memoryview(b"\x00\xff")])
def test_render_bytes(payload: Any) -> None:
    result = render_success(payload, domain=DOMAIN)
    assert result == HttpResult(200, [("Content-Type", "application/octet-stream")], b"\x00\xff")


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        ({"a": 1, "b": "é"}, '{"a":1,"b":"é"}'),
        ([1, 2], "[1,2]"),
        ((1, "x"), '[1,"x"]'),
        (42, "42"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_render_json(payload: Any, body: str) -> None:
    result = render_success(payload, domain=DOMAIN)
    assert result == HttpResult(
        200, [("Content-Type", "application/json; charset=utf-8")], body.encode()
    )


def test_render_twiml() -> None:
    from twilio.twiml.messaging_response import MessagingResponse

    twiml = MessagingResponse()
    twiml.message("Hello")
    result = render_success(twiml, domain=DOMAIN)
    assert result.status == 200
    assert result.headers == [("Content-Type", "text/xml; charset=utf-8")]
    assert (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hello</Message></Response>'
        in result.body
    )


def test_is_twiml() -> None:
    from twilio.twiml.voice_response import VoiceResponse

    assert is_twiml(VoiceResponse())
    assert not is_twiml("<Response/>")
    assert not is_twiml(None)


def test_is_twiml_without_twilio_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "twilio.twiml", raising=False)
    assert not is_twiml(object())
    assert "twilio.twiml" not in sys.modules


def test_render_other_json_serialisable_object() -> None:
    class Custom(dict[str, int]):
        pass

    result = render_success(Custom(a=1), domain=DOMAIN)
    assert (result.status, result.body) == (200, b'{"a":1}')


@pytest.mark.parametrize(
    "payload", [object(), {1, 2}, {"when": datetime.now(UTC)}, float("nan"), {(1, 2): "x"}]
)
def test_render_unserialisable_is_500(payload: Any) -> None:
    result = render_success(payload, domain=DOMAIN)
    assert result.status == 500
    assert result.headers == [("Content-Type", "application/json; charset=utf-8")]
    error = json.loads(result.body)
    assert error["message"].startswith("The function's response could not be converted: ")
    assert "stack" not in error


def test_render_unserialisable_message_names_the_type() -> None:
    error = json.loads(render_success(object(), domain=DOMAIN).body)
    assert error["message"] == (
        "The function's response could not be converted: "
        "Object of type object is not JSON serializable"
    )


# --- render_success: Response objects ----------------------------------------------


def test_render_response_json_with_status_418() -> None:
    response = Response()
    response.set_body({"data": "Something"})
    response.set_status_code(418)
    response.append_header("Content-Type", "application/json")
    result = render_success(response, domain=DOMAIN)
    assert result == HttpResult(
        418, [("Content-Type", "application/json")], b'{"data":"Something"}'
    )


@pytest.mark.parametrize(
    ("body", "content_type", "encoded"),
    [
        ({"a": [1]}, "application/json; charset=utf-8", b'{"a":[1]}'),
        ([1, 2], "application/json; charset=utf-8", b"[1,2]"),
        ("plain ü", "text/plain; charset=utf-8", "plain ü".encode()),
        (b"\x01\x02", "application/octet-stream", b"\x01\x02"),
    ],
)
def test_render_response_default_content_type(body: Any, content_type: str, encoded: bytes) -> None:
    result = render_success(Response(body=body), domain=DOMAIN)
    assert result == HttpResult(200, [("Content-Type", content_type)], encoded)


def test_render_response_content_type_check_is_case_insensitive() -> None:
    response = Response(body="<p>hi</p>").append_header("content-type", "text/html")
    result = render_success(response, domain=DOMAIN)
    assert result.headers == [("content-type", "text/html")]
    assert result.body == b"<p>hi</p>"


def test_render_response_without_body() -> None:
    result = render_success(Response(status_code=204), domain=DOMAIN)
    assert result == HttpResult(204, [], b"")


def test_render_response_twiml_body() -> None:
    from twilio.twiml.voice_response import VoiceResponse

    twiml = VoiceResponse()
    twiml.say("Hi")
    result = render_success(Response(body=twiml), domain=DOMAIN)
    assert header(result, "Content-Type") == ["text/xml; charset=utf-8"]
    assert result.body == str(twiml).encode()


def test_render_response_header_lines() -> None:
    response = (
        Response(body="x")
        .append_header("X-Many", "a")
        .append_header("X-Many", "b")
        .append_header("X-Number", 5)
        .append_header("X-Float", 2.0)
        .append_header("X-Flag", True)
        .append_header("X-Case", "kept")
    )
    result = render_success(response, domain=DOMAIN)
    assert result.headers == [
        ("X-Many", "a"),
        ("X-Many", "b"),
        ("X-Number", "5"),
        ("X-Float", "2"),
        ("X-Flag", "true"),
        ("X-Case", "kept"),
        ("Content-Type", "text/plain; charset=utf-8"),
    ]


def test_render_response_skips_none_header_values() -> None:
    response = Response()
    response.headers["X-None"] = None
    assert render_success(response, domain=DOMAIN).headers == []


@pytest.mark.parametrize("status", [99, 100, 199, 600, "200", 200.0, True, None])
def test_render_response_invalid_status_is_500(status: Any) -> None:
    response = Response()
    response.status_code = status
    result = render_success(response, domain=DOMAIN)
    assert result.status == 500
    assert "a response status must be 200-599" in json.loads(result.body)["message"]


@pytest.mark.parametrize("status", [200, 302, 599])
def test_render_response_valid_status_edges(status: int) -> None:
    assert render_success(Response(status_code=status), domain=DOMAIN).status == status


def test_render_response_unserialisable_body_is_500() -> None:
    result = render_success(Response(body={"x": object()}), domain=DOMAIN)
    assert result.status == 500
    assert "could not be converted" in json.loads(result.body)["message"]


# Header names and values are checked where they are written: tests/gateway/test_app.py.


# --- render_success: cookie rules -------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        "a;b=c d",  # setCookie("a;b", "c d"), from issue 13
        "a=c d",
        "novalue",
        "=v",
        "a b=c",
        'a="half',
        "a=x,y",
        "a=back\\slash",
        "a=\x01",
        "caf\u00e9=1",
        "a=caf\u00e9",
    ],
)
def test_cookie_name_and_value_must_be_rfc_6265(cookie: str) -> None:
    result = render_success(Response().append_header("Set-Cookie", cookie), domain=DOMAIN)
    assert result.status == 500
    message = json.loads(result.body)["message"]
    assert "RFC 6265" in message and repr(cookie) in message


@pytest.mark.parametrize(
    ("name", "value"),
    [("a", ""), ("a", '"quoted"'), ("a", '""'), ("tz", "America/Los_Angeles"), ("x!#~", "=:?")],
)
def test_valid_rfc_6265_cookies_are_kept(name: str, value: str) -> None:
    cookies = cookies_of(Response().set_cookie(name, value))
    assert cookies == [f"{name}={value};Domain={DOMAIN};HttpOnly;Secure"]


def test_cookie_gets_httponly_secure_and_domain() -> None:
    response = Response().set_cookie("a", "b", ["Path=/"])
    assert cookies_of(response) == [f"a=b;Path=/;Domain={DOMAIN};HttpOnly;Secure"]


def test_cookie_flags_not_duplicated_in_any_case() -> None:
    response = Response().set_cookie("a", "b", ["httponly", "SECURE"])
    assert cookies_of(response) == [f"a=b;httponly;SECURE;Domain={DOMAIN}"]


def test_cookie_domain_is_replaced_and_port_stripped() -> None:
    response = Response().set_cookie("a", "b", ["Domain=evil.com", "Path=/"])
    assert cookies_of(response, "localhost:3000") == ["a=b;Path=/;Domain=localhost;HttpOnly;Secure"]


def test_cookie_domain_removed_when_domain_empty() -> None:
    response = Response().set_cookie("a", "b", ["domain=evil.com"])
    assert cookies_of(response, "") == ["a=b;HttpOnly;Secure"]


def test_cookie_ipv6_domain_keeps_brackets() -> None:
    response = Response().set_cookie("a", "b")
    assert cookies_of(response, "[::1]:3000") == ["a=b;Domain=[::1];HttpOnly;Secure"]


def test_several_cookies_become_several_lines() -> None:
    response = Response().set_cookie("a", "1").set_cookie("b", "2")
    assert cookies_of(response) == [
        f"a=1;Domain={DOMAIN};HttpOnly;Secure",
        f"b=2;Domain={DOMAIN};HttpOnly;Secure",
    ]


def test_empty_cookie_list_sends_no_header() -> None:
    assert header(render_success(Response(body="x"), domain=DOMAIN), "Set-Cookie") == []


def test_cookie_max_age_over_a_day_is_400() -> None:
    response = Response(body="x").set_cookie("a", "b", ["Max-Age=86401"])
    assert render_success(response, domain=DOMAIN) == TOO_OLD


def test_cookie_max_age_of_a_day_is_ok() -> None:
    response = Response().set_cookie("a", "b", ["Max-Age=86400"])
    assert cookies_of(response) == [f"a=b;Max-Age=86400;Domain={DOMAIN};HttpOnly;Secure"]


def test_cookie_max_age_attribute_name_is_case_insensitive() -> None:
    response = Response().set_cookie("a", "b", ["max-age=90000"])
    assert render_success(response, domain=DOMAIN) == TOO_OLD


def test_removed_cookie_passes_the_rules() -> None:
    assert cookies_of(Response().remove_cookie("a")) == [
        f"a=;Max-Age=0;Domain={DOMAIN};HttpOnly;Secure"
    ]


def test_cookie_invalid_max_age_is_400() -> None:
    response = Response().set_cookie("a", "b", ["Max-Age=soon"])
    result = render_success(response, domain=DOMAIN)
    assert result.status == 400
    assert b"Max-Age" in result.body


def test_cookie_expires_two_days_ahead_is_400() -> None:
    response = Response().set_cookie("a", "b", [f"Expires={http_date(timedelta(days=2))}"])
    assert render_success(response, domain=DOMAIN) == TOO_OLD


def test_cookie_expires_one_hour_ahead_is_ok() -> None:
    expires = http_date(timedelta(hours=1))
    response = Response().set_cookie("a", "b", [f"Expires={expires}"])
    assert cookies_of(response) == [f"a=b;Expires={expires};Domain={DOMAIN};HttpOnly;Secure"]


def test_cookie_expires_in_the_past_is_ok() -> None:
    response = Response().set_cookie("a", "b", ["Expires=Thu, 01 Jan 1970 00:00:00 GMT"])
    assert render_success(response, domain=DOMAIN).status == 200


def test_cookie_max_age_wins_over_expires() -> None:
    far = http_date(timedelta(days=30))
    response = Response().set_cookie("a", "b", ["Max-Age=60", f"Expires={far}"])
    assert render_success(response, domain=DOMAIN).status == 200


def test_cookie_unparsable_expires_is_400() -> None:
    response = Response().set_cookie("a", "b", ["Expires=tomorrow"])
    result = render_success(response, domain=DOMAIN)
    assert result.status == 400
    assert result.headers == [("Content-Type", "text/plain; charset=utf-8")]
    assert b"Expires" in result.body and b"tomorrow" in result.body


def test_cookie_rules_apply_to_headers_set_directly() -> None:
    response = Response()
    response.headers["set-cookie"] = "a=b;Max-Age=100000"
    assert render_success(response, domain=DOMAIN) == TOO_OLD


# --- render_error ---------------------------------------------------------------------


def raised() -> ValueError:
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        return exc


def test_render_error_exception_without_stack() -> None:
    result = render_error(raised(), include_stack=False)
    assert result.status == 500
    assert result.headers == [("Content-Type", "application/json; charset=utf-8")]
    assert json.loads(result.body) == {"message": "bad value", "name": "ValueError"}


def test_render_error_exception_with_stack() -> None:
    error = json.loads(render_error(raised(), include_stack=True).body)
    assert error["message"] == "bad value"
    assert error["name"] == "ValueError"
    assert error["stack"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad value" in error["stack"]


def test_render_error_unraised_exception_with_stack() -> None:
    error = json.loads(render_error(KeyboardInterrupt(), include_stack=True).body)
    assert error == {"message": "", "name": "KeyboardInterrupt", "stack": "KeyboardInterrupt\n"}


@pytest.mark.parametrize("include_stack", [False, True])
def test_render_error_string(include_stack: bool) -> None:
    result = render_error("Something broke", include_stack=include_stack)
    assert result.status == 500
    assert json.loads(result.body) == {"message": "Something broke", "name": "Error"}


@pytest.mark.parametrize("include_stack", [False, True])
def test_render_error_dict(include_stack: bool) -> None:
    result = render_error({"code": 42, "détail": "x"}, include_stack=include_stack)
    assert result.status == 500
    assert result.body == '{"code":42,"détail":"x"}'.encode()


def test_render_error_unserialisable_dict() -> None:
    value = {"when": object()}
    result = render_error(value, include_stack=False)
    assert result.status == 500
    assert json.loads(result.body) == {"message": repr(value), "name": "Error"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, {"message": "42", "name": "int"}),
        (["a"], {"message": "['a']", "name": "list"}),
        (None, {"message": "None", "name": "NoneType"}),
    ],
)
def test_render_error_other_values(value: Any, expected: dict[str, str]) -> None:
    result = render_error(value, include_stack=True)
    assert result.status == 500
    assert json.loads(result.body) == expected


def test_render_error_survives_broken_str() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    error = json.loads(render_error(Broken(), include_stack=False).body)
    assert error["name"] == "Broken"
    assert "Broken" in error["message"]
