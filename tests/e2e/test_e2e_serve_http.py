"""``callbox serve`` at the HTTP edge, over real sockets: slow clients, WebSocket handshakes, two
Host headers, the port in DOMAIN_NAME, and HTTPS (certificate generated here). Issue 13.
Sample functions: ``tests/functions/serve_http``."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from deploying import deploy
from twilio.request_validator import RequestValidator

SAMPLES = Path(__file__).resolve().parent.parent / "functions" / "serve_http"
LIMITS = {
    "CALLBOX_REQUEST_HEADER_TIMEOUT": "1",
    "CALLBOX_REQUEST_BODY_TIMEOUT": "1",
    "CALLBOX_REQUEST_BODY_MIN_RATE": "1000000",
}


def source(name: str) -> bytes:
    return (SAMPLES / "functions" / f"{name}.py").read_bytes()


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.serve(env=LIMITS)


@pytest.fixture(scope="module")
def deployed(server) -> dict[str, Any]:
    return dict(deploy(server, {"/self_url": (source("self_url"), "public")}, service="edge"))


def raw(port: int, data: bytes, *, wait: float = 10.0) -> bytes:
    """Send ``data`` on a new connection; everything answered until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(answer.partition(b"\r\n\r\n")[2])
    return result


# -- slow clients ---------------------------------------------------------------------------


def test_half_sent_requests_are_closed_after_the_header_timeout(server, deployed):
    # From issue 13: 300 half-sent requests were all still open after 40 s.
    host = f"{deployed['domain']}:{server.port}".encode()
    sockets = []
    for i in range(100):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        if i % 2:  # half send part of their headers, half nothing at all
            sock.sendall(b"GET /self_url HTTP/1.1\r\nHost: " + host + b"\r\nX-Slow: yes")
        sockets.append(sock)
    started = time.monotonic()
    # Meanwhile the server answers others at once.
    assert server.client.get("/health").status_code == 200
    answers = []
    for sock in sockets:
        with sock:
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            answers.append(b"".join(chunks))
    assert time.monotonic() - started < 8  # the limit is 1 s; without it they stay open
    assert {status_of(answer) for answer in answers} == {408}
    assert body_of(answers[0])["code"] == 20408


def test_a_body_that_stops_coming_is_a_408_and_runs_nothing(server, deployed):
    host = f"{deployed['domain']}:{server.port}"
    head = f"POST /self_url HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\n"
    answer = raw(server.port, head.encode() + b"partial")
    assert status_of(answer) == 408
    # The API's body has the same deadline.
    credentials = base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()
    head = (
        f"POST /v1/Services HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Length: 50\r\n\r\n"
    )
    assert status_of(raw(server.port, head.encode() + b"Unique")) == 408
    assert server.client.get("/health").status_code == 200


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["environment", "api"])
def test_a_websocket_handshake_is_a_clean_400(server, deployed, where):
    # From issue 13: on an environment domain it was a 500.
    host = deployed["domain"] if where == "environment" else "127.0.0.1"
    handshake = (
        f"GET /self_url HTTP/1.1\r\nHost: {host}:{server.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    answer = raw(server.port, handshake.encode())
    assert status_of(answer) == 400, answer
    assert "WebSocket connections are not supported" in body_of(answer)["message"]
    assert not [line for line in server.stderr_lines() if "Traceback" in line], server.output()


def test_two_host_headers_are_a_400(server, deployed):
    # From issue 13: the first Host routed the request.
    request = (
        f"GET /self_url HTTP/1.1\r\nHost: {deployed['domain']}:{server.port}\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    )
    answer = raw(server.port, request.encode())
    assert status_of(answer) == 400
    assert body_of(answer)["message"].startswith("The request has 2 Host headers")


# -- DOMAIN_NAME ----------------------------------------------------------------------------


def test_a_url_built_from_domain_name_reaches_the_function(server, deployed):
    # From issue 13: a deployed DOMAIN_NAME dropped the port the server listens on.
    with server.environment(deployed["domain"]) as env:
        url = env.get("/self_url").json()["url"]
    assert url == f"http://{deployed['domain']}:{server.port}/self_url"
    netloc = url.split("/")[2]
    port = int(netloc.rsplit(":", 1)[1])
    request = f"GET /self_url HTTP/1.1\r\nHost: {netloc}\r\nConnection: close\r\n\r\n"
    answer = raw(port, request.encode())
    assert status_of(answer) == 200 and body_of(answer)["url"] == url


# -- HTTPS ----------------------------------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callbox e2e")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_serve_speaks_https_with_a_certificate(servers, tmp_path):
    # From issue 13: responses set Secure cookies, but serve spoke only plain HTTP.
    cert_file, key_file = make_certificate(tmp_path)
    server = servers.serve(
        args=["--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file)], cafile=cert_file
    )
    assert any(
        f"the API on https://127.0.0.1:{server.port}/v1" in line for line in server.stdout_lines()
    )
    deployed = deploy(
        server,
        {"/counter": (source("counter"), "public"), "/signed": (source("signed"), "protected")},
        service="secure",
    )
    domain = deployed["domain"]

    # Cookie state through a non-browser client: Secure cookies come back over HTTPS.
    with server.environment(domain) as env:
        first = env.get("/counter")
        assert first.json() == {"count": 1}
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("count=1;") and "Secure" in cookie and "HttpOnly" in cookie
        second = env.get("/counter", headers={"Cookie": "count=1"})
        assert second.json() == {"count": 2}

        # Signatures are checked against the https:// URL the client used.
        params = {"Body": "over tls"}
        https_url = f"https://{domain}:{server.port}/signed"
        signature = RequestValidator(server.auth_token).compute_signature(https_url, params)
        signed = env.post("/signed", data=params, headers={"X-Twilio-Signature": signature})
        assert (signed.status_code, signed.text) == (200, "signed over tls")
        http_url = f"http://{domain}:{server.port}/signed"
        wrong = RequestValidator(server.auth_token).compute_signature(http_url, params)
        refused = env.post("/signed", data=params, headers={"X-Twilio-Signature": wrong})
        assert refused.status_code == 403

    # Plain HTTP on the TLS port is not answered as HTTP.
    answer = raw(server.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert not answer.startswith(b"HTTP/1.1 200")


def test_serve_with_an_unusable_certificate_fails_in_one_line(callbox_cli, tmp_path):
    bad = tmp_path / "cert.pem"
    bad.write_text("not a certificate")
    result = callbox_cli(
        ["serve", "--data", str(tmp_path / "data"), "--port", "0", "--ssl-certfile", str(bad)],
        timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Cannot use the TLS certificate"), lines
