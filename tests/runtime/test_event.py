"""Request -> event conversion, adapted from the Twilio serverless-runtime tests."""

from __future__ import annotations

from typing import Any

import pytest

from callbox.runtime.event import (
    RESTRICTED_HEADERS,
    RESTRICTED_PREFIXES,
    EventError,
    build_event,
    parse_body,
    parse_cookies,
    parse_headers,
    parse_query,
)

FORM = (b"content-type", b"application/x-www-form-urlencoded")
JSON = (b"content-type", b"application/json")
EMPTY_REQUEST: dict[str, Any] = {"headers": {}, "cookies": {}}


def event(
    query: bytes = b"", body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return build_event(query_string=query, headers=headers or [], body=body)


# --- build_event: merging query, body and request ---------------------------------------


def test_body_and_query_are_merged_with_string_query_values() -> None:
    result = build_event(query_string=b"index=5", headers=[JSON], body=b'{"Body": "Hello"}')
    assert result == {
        "Body": "Hello",
        "index": "5",
        "request": {"headers": {"content-type": "application/json"}, "cookies": {}},
    }


def test_form_body_and_query_are_merged() -> None:
    result = event(query=b"index=5", body=b"Body=Hello", headers=[FORM])
    assert {k: v for k, v in result.items() if k != "request"} == {"Body": "Hello", "index": "5"}


def test_body_beats_query() -> None:
    result = event(query=b"Body=FromQuery&extra=1", body=b"Body=FromBody", headers=[FORM])
    assert result["Body"] == "FromBody"
    assert result["extra"] == "1"


def test_query_key_named_request_replaces_the_request() -> None:
    result = build_event(query_string=b"request=Hello", headers=[], body=b"Body=Bye")
    # No content type: the body is not parsed.
    assert result == {"request": "Hello"}
    result = build_event(query_string=b"request=Hello", headers=[FORM], body=b"Body=Bye")
    assert result == {"Body": "Bye", "request": "Hello"}


def test_body_key_named_request_replaces_the_request() -> None:
    result = event(query=b"request=Hello", body=b'{"request": {"x": 1}}', headers=[JSON])
    assert result == {"request": {"x": 1}}


def test_empty_body_and_query() -> None:
    assert event() == {"request": EMPTY_REQUEST}


def test_event_request_has_headers_and_cookies() -> None:
    result = event(headers=[(b"X-Test", b"1"), (b"Cookie", b"a=1"), (b"Host", b"example.com")])
    assert result["request"] == {
        "headers": {"x-test": "1", "cookie": "a=1"},
        "cookies": {"a": "1"},
    }


# --- headers ------------------------------------------------------------------------------


def test_no_headers() -> None:
    assert parse_headers([]) == {}


def test_header_value_with_comma_is_kept_whole() -> None:
    assert parse_headers([(b"x-test", b"a, b")]) == {"x-test": "a, b"}


def test_repeated_header_becomes_a_list() -> None:
    assert parse_headers([(b"x-test", b"1"), (b"x-test", b"2")]) == {"x-test": ["1", "2"]}


def test_three_repeated_headers_keep_arrival_order() -> None:
    raw = [(b"x-test", b"c"), (b"x-other", b"o"), (b"x-test", b"a"), (b"x-test", b"b")]
    assert parse_headers(raw) == {"x-test": ["c", "a", "b"], "x-other": "o"}


def test_header_names_differing_in_case_merge() -> None:
    raw = [(b"X-Test", b"1"), (b"x-test", b"2"), (b"X-TEST", b"3")]
    assert parse_headers(raw) == {"x-test": ["1", "2", "3"]}


def test_twilio_internal_header_dropped() -> None:
    assert parse_headers([(b"I-Twilio-Test", b"1"), (b"x-ok", b"2")]) == {"x-ok": "2"}


def test_every_restricted_name_and_prefix_dropped() -> None:
    raw = [(name.encode(), b"v") for name in RESTRICTED_HEADERS]
    raw += [(f"{prefix}thing".encode(), b"v") for prefix in RESTRICTED_PREFIXES]
    raw += [(name.upper().encode(), b"v") for name in RESTRICTED_HEADERS]
    raw.append((b"x-actual-header", b"kept"))
    assert parse_headers(raw) == {"x-actual-header": "kept"}


def test_restricted_lists_match_twilio() -> None:
    assert {
        "connection",
        "proxy-connection",
        "expect",
        "host",
        "proxy-authorization",
        "proxy-authenticate",
        "referer",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "x-real-ip",
    } == RESTRICTED_HEADERS
    assert RESTRICTED_PREFIXES == ("i-twilio-", "i-t-", "ot-", "x-amz", "x-forwarded-", "x-accel-")


def test_host_header_dropped() -> None:
    assert parse_headers([(b"Host", b"example.com")]) == {}


def test_header_values_decoded_as_latin1() -> None:
    assert parse_headers([(b"x-test", "caf\u00e9".encode("latin-1"))]) == {"x-test": "caf\u00e9"}


# --- cookies ------------------------------------------------------------------------------


def test_basic_cookies() -> None:
    raw = [(b"cookie", b"flavour=chocolate; size=large")]
    assert parse_cookies(raw) == {"flavour": "chocolate", "size": "large"}


def test_cookie_value_is_url_decoded() -> None:
    assert parse_cookies([(b"cookie", b"flavour=choc%20chip")]) == {"flavour": "choc chip"}


def test_invalid_cookie_escape_left_as_is() -> None:
    assert parse_cookies([(b"cookie", b"a=100%zz")]) == {"a": "100%zz"}


def test_quoted_cookie_value() -> None:
    assert parse_cookies([(b"cookie", b'flavour="choc chip"')]) == {"flavour": "choc chip"}


def test_duplicate_cookie_first_wins() -> None:
    assert parse_cookies([(b"cookie", b"a=1; a=2")]) == {"a": "1"}


def test_cookie_name_case_kept() -> None:
    assert parse_cookies([(b"cookie", b"Flavour=a; flavour=b")]) == {"Flavour": "a", "flavour": "b"}


def test_garbage_cookie_segments_ignored() -> None:
    raw = [(b"cookie", b"; novalue; =nokey;  a = 1 ;;b==2")]
    assert parse_cookies(raw) == {"a": "1", "b": "=2"}


def test_two_cookie_headers() -> None:
    raw = [(b"Cookie", b"a=1; b=2"), (b"x-other", b"c=3"), (b"cookie", b"b=9; c=3")]
    assert parse_cookies(raw) == {"a": "1", "b": "2", "c": "3"}


def test_no_cookies() -> None:
    assert parse_cookies([(b"x-test", b"a=1")]) == {}


# --- query --------------------------------------------------------------------------------


def test_repeated_query_key_becomes_a_list() -> None:
    assert parse_query(b"a=1&b=x&a=2&a=3") == {"a": ["1", "2", "3"], "b": "x"}


def test_query_brackets_not_expanded() -> None:
    assert parse_query(b"a[b]=1&c[]=2") == {"a[b]": "1", "c[]": "2"}


def test_query_plus_is_space_and_escapes_decoded() -> None:
    assert parse_query(b"a=hello+world&b=caf%C3%A9&c%20d=1") == {
        "a": "hello world",
        "b": "caf\u00e9",
        "c d": "1",
    }


def test_query_blank_values_kept() -> None:
    assert parse_query(b"a=&b") == {"a": "", "b": ""}


def test_invalid_utf8_in_query_is_not_an_error() -> None:
    assert parse_query(b"a=%FF&b=\xff") == {"a": "\ufffd", "b": "\ufffd"}
    assert event(query=b"a=%FF")["a"] == "\ufffd"


# --- form body ----------------------------------------------------------------------------

FORM_TYPE = "application/x-www-form-urlencoded"


def test_repeated_form_key_becomes_a_list() -> None:
    assert parse_body(b"a=1&a=2&b=3", FORM_TYPE) == {"a": ["1", "2"], "b": "3"}


def test_form_brackets_and_plus() -> None:
    assert parse_body(b"a[b]=1&c=x+y", FORM_TYPE) == {"a[b]": "1", "c": "x y"}


def test_form_content_type_case_and_parameters_ignored() -> None:
    assert parse_body(b"a=1", "Application/X-WWW-Form-URLEncoded; charset=UTF-8") == {"a": "1"}


def test_invalid_utf8_in_form_is_an_error() -> None:
    with pytest.raises(EventError) as info:
        parse_body(b"a=\xff", FORM_TYPE)
    assert str(info.value) == "Malformed form body: not valid UTF-8 (byte 0xff at offset 2)"


def test_escaped_invalid_utf8_in_form_is_an_error() -> None:
    with pytest.raises(EventError) as info:
        parse_body(b"ok=1&a=%FF", FORM_TYPE)
    assert str(info.value) == (
        "Malformed form body: a %-escape decodes to invalid UTF-8 (byte 0xff)"
    )


def test_invalid_utf8_in_form_via_build_event() -> None:
    with pytest.raises(EventError):
        event(body=b"a=\xff", headers=[FORM])


# --- JSON body ----------------------------------------------------------------------------


def test_json_nested_values_kept() -> None:
    body = b'{"a": {"b": [1, {"c": null}]}, "d": true, "e": 1.5}'
    assert parse_body(body, "application/json") == {
        "a": {"b": [1, {"c": None}]},
        "d": True,
        "e": 1.5,
    }


def test_json_array_keys_are_indexes() -> None:
    assert parse_body(b'["x", {"y": 1}]', "application/json") == {"0": "x", "1": {"y": 1}}


@pytest.mark.parametrize("body", [b"", b"  \n\t\r "])
def test_empty_json_body(body: bytes) -> None:
    assert parse_body(body, "application/json") == {}
    assert event(body=body, headers=[JSON]) == {
        "request": {"headers": {"content-type": "application/json"}, "cookies": {}}
    }


def test_json_with_charset_parameter() -> None:
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_body(b'{"a": 1}', "Application/JSON;charset=UTF-8") == {"a": 1}


def test_json_suffix_media_type() -> None:
    assert parse_body(b'{"a": 1}', "application/vnd.api+json") == {"a": 1}


def test_json_leading_bom_tolerated() -> None:
    assert parse_body(b'\xef\xbb\xbf{"a": 1}', "application/json") == {"a": 1}


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "multipart/form-data; boundary=x", "application/xml", "text/json"],
)
def test_other_media_types_ignored(content_type: str | None) -> None:
    assert parse_body(b'{"a": 1}', content_type) == {}


def test_text_plain_body_ignored_in_event() -> None:
    result = event(body=b"a=1", headers=[(b"content-type", b"text/plain")])
    assert "a" not in result


def test_malformed_json_has_clear_message() -> None:
    with pytest.raises(EventError) as info:
        parse_body(b"not json", "application/json")
    assert str(info.value) == "Malformed JSON body: Expecting value at line 1 column 1"
    assert isinstance(info.value, ValueError)


def test_truncated_json_reports_position() -> None:
    with pytest.raises(EventError, match=r"^Malformed JSON body: .* line 2 column"):
        parse_body(b'{\n"a": ', "application/json")


def test_json_nan_rejected() -> None:
    with pytest.raises(EventError, match="NaN is not valid JSON"):
        parse_body(b'{"a": NaN}', "application/json")


def test_invalid_utf8_in_json_is_an_error() -> None:
    with pytest.raises(EventError, match=r"^Malformed JSON body: not valid UTF-8 \(byte 0xff"):
        parse_body(b'{"a": "\xff"}', "application/json")


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"5", "a number"), (b'"s"', "a string"), (b"true", "a boolean"), (b"null", "null")],
)
def test_json_scalar_top_level_is_an_error(body: bytes, kind: str) -> None:
    with pytest.raises(EventError) as info:
        parse_body(body, "application/json")
    assert str(info.value) == f"JSON body must be an object or an array, got {kind}"


def test_malformed_json_via_build_event() -> None:
    with pytest.raises(EventError):
        event(body=b"{", headers=[JSON])
