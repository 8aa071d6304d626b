"""X-Twilio-Signature checks: form posts (repeated keys), JSON bodies with bodySHA256, ports."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from callbox.gateway.signature import is_valid

TOKEN = "12345"
FORM = "application/x-www-form-urlencoded"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]


def sign(url: str, params: list[tuple[str, str]] | None = None, token: str = TOKEN) -> str:
    """HMAC-SHA1 of the URL followed by every key+value, sorted, base64: computed here."""
    data = url + "".join(key + value for key, value in sorted(params or []))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


SIGNATURE = sign(URL, PARAMS)


def form(params: list[tuple[str, str]]) -> bytes:
    return urlencode(params).encode()


def check(url: str, signature: str | None, body: bytes = b"", content_type: str = FORM) -> bool:
    return is_valid(
        auth_token=TOKEN, url=url, signature=signature, body=body, content_type=content_type
    )


# --- form posts -------------------------------------------------------------------------


def test_the_signature_computed_here_is_the_twilio_librarys() -> None:
    assert RequestValidator(TOKEN).compute_signature(URL, dict(PARAMS)) == SIGNATURE


def test_valid_form_signature() -> None:
    assert check(URL, SIGNATURE, form(PARAMS))


def test_form_content_type_with_charset_is_still_a_form() -> None:
    assert check(URL, SIGNATURE, form(PARAMS), f"{FORM}; charset=utf-8")


def test_form_params_in_any_order_are_valid() -> None:
    assert check(URL, SIGNATURE, form(list(reversed(PARAMS))))


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (URL, [*PARAMS[:-1], ("To", "+18005550000")]),  # a changed value
        (URL, PARAMS[:-1]),  # a missing param
        (URL, [*PARAMS, ("Extra", "1")]),  # an added param
        ("https://mycompany.com/myapp.php?foo=1&bar=3", PARAMS),  # another query
        ("http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS),  # another scheme
        ("https://mycompany.com/other.php?foo=1&bar=2", PARAMS),  # another path
    ],
)
def test_form_requests_that_do_not_match_the_signature(
    url: str, params: list[tuple[str, str]]
) -> None:
    assert not check(url, SIGNATURE, form(params))


def test_form_signature_made_with_another_token_is_invalid() -> None:
    assert not check(URL, sign(URL, PARAMS, token="another-token"), form(PARAMS))


def test_repeated_form_keys_are_all_signed() -> None:
    params = [("To", "+15550002"), ("Body", "hi"), ("To", "+15550001")]
    signature = sign("https://example.com/sms", params)
    assert check("https://example.com/sms", signature, form(params))
    # Only the first value signed: not valid.
    first_only = sign("https://example.com/sms", [("Body", "hi"), ("To", "+15550002")])
    assert not check("https://example.com/sms", first_only, form(params))
    # The request lost one of the repeated values: not valid.
    assert not check("https://example.com/sms", signature, form(params[:2]))


def test_blank_form_values_are_signed() -> None:
    params = [("Body", ""), ("From", "+1")]
    assert check("https://example.com/x", sign("https://example.com/x", params), form(params))


def test_form_body_that_is_not_utf8_is_invalid() -> None:
    assert not check(URL, SIGNATURE, b"Body=\xff\xfe")


# --- missing signature ------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_invalid(signature: str | None) -> None:
    assert not check(URL, signature, form(PARAMS))


def test_garbage_signature_is_invalid() -> None:
    assert not check(URL, "not-base64-at-all", form(PARAMS))


# --- JSON bodies ------------------------------------------------------------------------


def json_request(payload: object) -> tuple[str, bytes]:
    body = json.dumps(payload).encode()
    url = f"https://example.com/hook?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return url, body


def test_json_body_with_matching_body_sha256_is_valid() -> None:
    url, body = json_request({"Body": "hi", "To": "+1555"})
    assert check(url, sign(url), body, "application/json")


def test_json_body_that_does_not_match_body_sha256_is_invalid() -> None:
    url, body = json_request({"Body": "hi"})
    assert not check(url, sign(url), b'{"Body": "changed"}', "application/json")


def test_json_body_with_a_bad_url_signature_is_invalid() -> None:
    url, body = json_request({"Body": "hi"})
    assert not check(url, sign(url, token="other"), body, "application/json")


def test_json_body_sha256_is_part_of_the_signed_url() -> None:
    url, body = json_request({"Body": "hi"})
    other_url, _ = json_request({"Body": "other"})
    assert not check(url, sign(other_url), body, "application/json")


def test_json_body_without_body_sha256_signs_the_url_only() -> None:
    url = "https://example.com/hook?x=1"
    assert check(url, sign(url), b'{"a": 1}', "application/json")
    assert not check(url, sign(url, [("a", "1")]), b'{"a": 1}', "application/json")


def test_get_request_signs_the_url_with_its_query() -> None:
    url = "https://example.com/asset.txt?From=me"
    assert check(url, sign(url), b"", "")
    assert not check("https://example.com/asset.txt?From=you", sign(url), b"", "")


# --- ports ------------------------------------------------------------------------------


def test_url_signed_without_port_matches_a_request_with_the_default_port() -> None:
    params = [("Body", "hi")]
    signature = sign("https://example.com/sms", params)
    assert check("https://example.com:443/sms", signature, form(params))


def test_url_signed_with_port_matches_a_request_without_it() -> None:
    params = [("Body", "hi")]
    signature = sign("https://example.com:443/sms", params)
    assert check("https://example.com/sms", signature, form(params))


def test_custom_port_signed_without_port_is_valid() -> None:
    params = [("Body", "hi")]
    signature = sign("http://localhost/sms", params)
    assert check("http://localhost:3000/sms", signature, form(params))
    signature = sign("http://localhost:3000/sms", params)
    assert check("http://localhost:3000/sms", signature, form(params))


def test_signature_for_another_port_is_invalid() -> None:
    params = [("Body", "hi")]
    signature = sign("http://localhost:4000/sms", params)
    assert not check("http://localhost:3000/sms", signature, form(params))


@pytest.mark.parametrize(
    "url", ["http://localhost:abc/sms", "http://localhost:99999/sms", "http://[::1/sms"]
)
def test_a_url_whose_port_is_not_a_port_is_invalid_not_an_error(url: str) -> None:
    params = [("Body", "hi")]
    assert not check(url, "some-signature", form(params))
    assert not check(url, sign(url, params), form(params))
    assert not check(url + "?bodySHA256=00", sign(url), b"{}", "application/json")
