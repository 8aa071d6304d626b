"""Protected functions and assets: X-Twilio-Signature checked with AUTH_TOKEN from .env."""

from __future__ import annotations

import hashlib
import json

import pytest
from twilio.request_validator import RequestValidator

SCENARIO = "protected"
AUTH_TOKEN = "e2e-auth-token-0123456789"  # tests/functions/protected/.env
FORBIDDEN = "Unauthorized Request. Signature is missing or is invalid"


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.start(SCENARIO)


def sign(url, params=None, token=AUTH_TOKEN):
    return RequestValidator(token).compute_signature(url, params or {})


def assert_forbidden(response):
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert FORBIDDEN in response.json()["message"]


def expected_twiml(text):
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>'


# -- with AUTH_TOKEN -----------------------------------------------------------------------


def test_signed_form_post_is_served(server):
    url = f"{server.base_url}/sms/reply"
    params = {"Body": "hello there", "From": "+15550001111"}
    response = server.client.post(
        url, data=params, headers={"X-Twilio-Signature": sign(url, params)}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == expected_twiml("You said: hello there")


def test_signed_get_with_query_is_served(server):
    url = f"{server.base_url}/sms/reply?Body=from-query"
    response = server.client.get(url, headers={"X-Twilio-Signature": sign(url)})
    assert response.status_code == 200
    assert response.text == expected_twiml("You said: from-query")


def test_forwarded_headers_from_a_client_do_not_change_the_signed_url(server):
    # The dev server trusts no proxy: the URL is the one the client actually used.
    url = f"{server.base_url}/sms/reply?Body=forwarded"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com"}
    response = server.client.get(url, headers={**headers, "X-Twilio-Signature": sign(url)})
    assert response.status_code == 200, response.text
    https_url = url.replace("http://", "https://")
    response = server.client.get(url, headers={**headers, "X-Twilio-Signature": sign(https_url)})
    assert_forbidden(response)


def test_missing_signature_is_403(server):
    assert_forbidden(server.client.post("/sms/reply", data={"Body": "hi"}))


def test_bad_signature_is_403(server):
    url = f"{server.base_url}/sms/reply"
    params = {"Body": "hi"}
    bad = sign(url, params, token="not-the-token")
    assert_forbidden(server.client.post(url, data=params, headers={"X-Twilio-Signature": bad}))


def test_signature_for_other_params_is_403(server):
    url = f"{server.base_url}/sms/reply"
    signature = sign(url, {"Body": "original"})
    response = server.client.post(
        url, data={"Body": "tampered"}, headers={"X-Twilio-Signature": signature}
    )
    assert_forbidden(response)


def test_signed_json_post_with_body_sha256_is_served(server):
    body = json.dumps({"Body": "json hello"}).encode()
    url = f"{server.base_url}/sms/reply?bodySHA256={hashlib.sha256(body).hexdigest()}"
    response = server.client.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", "X-Twilio-Signature": sign(url)},
    )
    assert response.status_code == 200
    assert response.text == expected_twiml("You said: json hello")


def test_json_body_not_matching_body_sha256_is_403(server):
    signed_body = json.dumps({"Body": "original"}).encode()
    url = f"{server.base_url}/sms/reply?bodySHA256={hashlib.sha256(signed_body).hexdigest()}"
    response = server.client.post(
        url,
        content=json.dumps({"Body": "tampered"}).encode(),
        headers={"Content-Type": "application/json", "X-Twilio-Signature": sign(url)},
    )
    assert_forbidden(response)


def test_protected_asset_needs_a_signature(server):
    url = f"{server.base_url}/secret.txt"
    assert_forbidden(server.client.get(url))
    response = server.client.get(url, headers={"X-Twilio-Signature": sign(url)})
    assert response.status_code == 200
    assert response.text == "protected asset content\n"


def test_options_on_a_protected_function_needs_no_signature(server):
    response = server.client.options("/sms/reply")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"


def test_twilio_client_with_credentials(server):
    response = server.client.get("/client")
    assert response.status_code == 200
    assert response.text == "Client"


@pytest.mark.parametrize("host", ["localhost:abc", "localhost:99999"])
def test_host_with_a_bad_port_is_403_not_500(server, host):
    url = f"http://{host}/sms/reply"
    params = {"Body": "hi"}
    for signature in ("some-signature", sign(url, params)):
        response = server.client.post(
            "/sms/reply",
            data=params,
            headers={"Host": host, "X-Twilio-Signature": signature},
        )
        assert_forbidden(response)
    assert server.client.get("/client").status_code == 200


# -- without AUTH_TOKEN --------------------------------------------------------------------


def test_without_auth_token_protected_is_403_and_start_says_so(servers):
    project = servers.copy(SCENARIO)
    server = servers.start(project, args=["--env", str(project / "unsigned.env")])
    assert any(
        "No AUTH_TOKEN is set: protected resources answer 403" in line
        for line in server.stdout_lines()
    )
    response = server.client.post("/sms/reply", data={"Body": "hi"})
    assert_forbidden(response)
    assert "no AUTH_TOKEN is configured" in response.json()["message"]
    # A signature computed with some token cannot help either: there is nothing to check it with.
    url = f"{server.base_url}/sms/reply"
    signed = server.client.post(
        url, data={"Body": "hi"}, headers={"X-Twilio-Signature": sign(url, {"Body": "hi"})}
    )
    assert_forbidden(signed)


def test_allow_unsigned_serves_protected_without_auth_token(servers):
    project = servers.copy(SCENARIO)
    server = servers.start(
        project, args=["--env", str(project / "unsigned.env"), "--allow-unsigned"]
    )
    assert any("WITHOUT signature checks" in line for line in server.stdout_lines())
    response = server.client.post("/sms/reply", data={"Body": "unsigned"})
    assert response.status_code == 200
    assert response.text == expected_twiml("You said: unsigned")
    asset = server.client.get("/secret.txt")
    assert asset.status_code == 200
    assert asset.text == "protected asset content\n"
