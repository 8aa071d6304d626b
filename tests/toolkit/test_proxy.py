"""`callbox twilio-proxy` in-process (twilio_proxy.py, twilio_ca.py): which tunnels it opens,
the certificates it answers with, and how requests inside a tunnel reach the server. With the
real twilio-run and a real server: tests/e2e/test_e2e_twilio_run.py."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from callbox.toolkit import twilio_ca
from callbox.toolkit.proxy import API_HOST, TwilioProxy

TARGET = "http://callbox.test:8080"


@pytest.mark.parametrize(
    "host",
    [
        "serverless.twilio.com",
        "serverless-upload.twilio.com",
        "serverless.sydney.au1.twilio.com",
        "serverless-upload.ashburn.us1.twilio.com",
        "serverless.dev.twilio.com",
        "SERVERLESS.TWILIO.COM",
    ],
)
def test_the_serverless_api_hosts_are_served(host: str) -> None:
    assert API_HOST.fullmatch(host)


@pytest.mark.parametrize(
    "host",
    [
        "api.twilio.com",
        "twilio.com",
        "evil-serverless.twilio.com",
        "serverless.twilio.com.evil.example",
        "serverless.a.b.c.twilio.com",
        "serverlesstwilio.com",
        "example.com",
    ],
)
def test_other_hosts_are_not(host: str) -> None:
    assert not API_HOST.fullmatch(host)


def test_the_authority_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = twilio_ca.load_or_create(tmp_path / "ca")
    again = twilio_ca.load_or_create(tmp_path / "ca")
    assert first.cert == again.cert
    assert (tmp_path / "ca" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert first.cert_file == tmp_path / "ca" / "ca.pem"


def client_context(authority: twilio_ca.Authority) -> ssl.SSLContext:
    """What Node.js does with NODE_EXTRA_CA_CERTS: trust the authority (here: only it)."""
    return ssl.create_default_context(cafile=str(authority.cert_file))


def handshake(authority: twilio_ca.Authority, host: str, tmp_path: Path) -> None:
    """A TLS handshake for ``host`` with the authority's certificate for ``host``."""
    chain, key = authority.issue(host)
    (tmp_path / "leaf.pem").write_bytes(chain)
    (tmp_path / "leaf.key").write_bytes(key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    left, right = socket.socketpair()
    with left, right:
        accepted = threading.Thread(
            target=lambda: _quietly(lambda: server.wrap_socket(right, server_side=True))
        )
        accepted.start()
        try:
            client_context(authority).wrap_socket(left, server_hostname=host).close()
        finally:
            right.close()
            accepted.join(5)


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):  # the client's refusal ends it
        action()


def test_its_certificates_are_trusted_for_twilio_names(tmp_path: Path) -> None:
    authority = twilio_ca.load_or_create(tmp_path / "ca")
    handshake(authority, "serverless.twilio.com", tmp_path)


def test_its_certificates_are_refused_for_any_other_name(tmp_path: Path) -> None:
    # The Name Constraints extension: even signed by the authority, example.com is refused.
    authority = twilio_ca.load_or_create(tmp_path / "ca")
    with pytest.raises(ssl.SSLCertVerificationError, match="(?i)name constraint|permitted"):
        handshake(authority, "www.example.com", tmp_path)


# --- a tunnel, in-process ---------------------------------------------------------------------


class Upstream:
    """The callbox server, as an httpx mock: every request kept, a JSON answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(201, json={"sid": "ZS" + "0" * 32, "path": request.url.path})


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[TwilioProxy, Upstream, list[str]]]:
    upstream = Upstream()
    logged: list[str] = []
    authority = twilio_ca.load_or_create(tmp_path / "ca")
    server = TwilioProxy(("127.0.0.1", 0), TARGET, authority, log=logged.append)
    server.client = httpx.Client(base_url=TARGET, transport=httpx.MockTransport(upstream))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, upstream, logged
    server.shutdown()
    server.server_close()
    thread.join(5)


def tunnel(server: TwilioProxy, target: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return sock, answer


def read_response(tls: ssl.SSLSocket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    while len(body) < length:
        body += tls.recv(65536)
    return head, body


def test_requests_inside_a_tunnel_reach_the_server(
    proxy: tuple[TwilioProxy, Upstream, list[str]],
) -> None:
    server, upstream, logged = proxy
    sock, answer = tunnel(server, "serverless-upload.twilio.com:443")
    assert answer.startswith(b"HTTP/1.1 200 Connection Established\r\n")
    context = client_context(server.authority)
    with context.wrap_socket(sock, server_hostname="serverless-upload.twilio.com") as tls:
        # Two requests on one connection: a sized body, then a chunked one.
        tls.sendall(
            b"POST /v1/Services HTTP/1.1\r\nHost: serverless-upload.twilio.com\r\n"
            b"Authorization: Basic QUM6dG9rZW4=\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: 18\r\nProxy-Connection: keep-alive\r\n\r\nUniqueName=example"
        )
        head, body = read_response(tls)
        assert head.startswith(b"HTTP/1.1 201 ")
        assert b'"path":"/v1/Services"' in body
        tls.sendall(
            b"POST /v1/Services/ZS/Builds HTTP/1.1\r\nHost: serverless-upload.twilio.com\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        head, body = read_response(tls)
        assert head.startswith(b"HTTP/1.1 201 ")
    first, second = upstream.requests
    assert (first.method, str(first.url)) == ("POST", f"{TARGET}/v1/Services")
    # The server is asked at its own address: its absolute URLs lead back to it.
    assert first.headers["host"] == "callbox.test:8080"
    assert first.headers["authorization"] == "Basic QUM6dG9rZW4="
    assert "proxy-connection" not in first.headers
    assert first.content == b"UniqueName=example"
    assert second.content == b"hello world"
    assert logged == [
        "201 POST https://serverless-upload.twilio.com/v1/Services",
        "201 POST https://serverless-upload.twilio.com/v1/Services/ZS/Builds",
    ]


@pytest.mark.parametrize(
    ("first_line", "status"),
    [
        ("CONNECT example.com:443 HTTP/1.1", b"403"),
        ("CONNECT serverless.twilio.com:80 HTTP/1.1", b"403"),
        ("GET http://serverless.twilio.com/v1/Services HTTP/1.1", b"405"),
    ],
)
def test_anything_else_is_refused(
    proxy: tuple[TwilioProxy, Upstream, list[str]], first_line: str, status: bytes
) -> None:
    server, upstream, _ = proxy
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(f"{first_line}\r\nHost: x\r\n\r\n".encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b"serverless[-upload][.edge.region].twilio.com:443" in answer
    assert upstream.requests == []


def test_a_server_that_does_not_answer_is_a_502_saying_so(
    proxy: tuple[TwilioProxy, Upstream, list[str]],
) -> None:
    server, _, _ = proxy

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server.client = httpx.Client(base_url=TARGET, transport=httpx.MockTransport(refuse))
    sock, _ = tunnel(server, "serverless.twilio.com:443")
    context = client_context(server.authority)
    with context.wrap_socket(sock, server_hostname="serverless.twilio.com") as tls:
        tls.sendall(b"GET /v1/Services HTTP/1.1\r\nHost: serverless.twilio.com\r\n\r\n")
        head, body = read_response(tls)
    assert head.startswith(b"HTTP/1.1 502 ")
    assert b"callbox at http://callbox.test:8080 did not answer" in body
