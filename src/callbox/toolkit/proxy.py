"""The HTTPS proxy behind ``callbox twilio-proxy``: Twilio's own toolkit (twilio-run, the Twilio
CLI's serverless plugin) deploying to callbox, unchanged.

Its API client builds every URL as ``https://serverless[-upload].[edge.][region.]twilio.com/v1``
and offers no setting for another host; what it does honour is ``HTTP_PROXY``: HTTPS requests
then go through that proxy as ``CONNECT host:443`` tunnels. This is that proxy. For the
Serverless API's hosts (and nothing else) it accepts the tunnel, ends its TLS with a
certificate from its own authority (twilio_ca.py; Node.js trusts it through
``NODE_EXTRA_CA_CERTS``) and hands each request inside to the callbox server, whose answers go
back the same way. Requests are forwarded to the server's own address, so the absolute URLs in
its answers (the next page of a list) lead the client straight to the server.

    connection -> CONNECT serverless.twilio.com:443 -> 200 -> TLS -> HTTP/1.1 requests
               -> callbox server (httpx) -> answers
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import h11
import httpx

from callbox.toolkit.twilio_ca import Authority

# serverless.twilio.com, serverless-upload.twilio.com and their edge and region forms
# (serverless.sydney.au1.twilio.com): what Twilio's serverless-api client connects to.
API_HOST = re.compile(r"serverless(-upload)?(\.[a-z0-9-]+){0,2}\.twilio\.com", re.IGNORECASE)
MAX_HEAD = 16 * 1024
# Not passed on: they describe one hop, and httpx sets its own.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",  # httpx hands over decoded bodies
    }
)

Log = Callable[[str], None]


class TwilioProxy(socketserver.ThreadingTCPServer):
    """Listens on ``address``; one thread per connection; ``serve_forever()`` to run."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], target: str, authority: Authority, log: Log
    ) -> None:
        self.target = target.rstrip("/")
        self.authority = authority
        self.log = log
        self.client = httpx.Client(base_url=self.target, timeout=120.0)
        self._certs = tempfile.TemporaryDirectory(prefix="callbox-twilio-proxy-")
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        super().__init__(address, _Connection)

    def tls_for(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context holding a certificate for ``host`` (made once)."""
        host = host.lower()
        with self._lock:
            if host not in self._contexts:
                chain, key = self.authority.issue(host)
                folder = Path(self._certs.name)
                (folder / f"{host}.pem").write_bytes(chain)
                (folder / f"{host}.key").write_bytes(key)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(folder / f"{host}.pem", folder / f"{host}.key")
                self._contexts[host] = context
            return self._contexts[host]

    def server_close(self) -> None:
        super().server_close()
        self.client.close()
        self._certs.cleanup()


class _Connection(socketserver.BaseRequestHandler):
    server: TwilioProxy

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(300)
        try:
            method, target = _request_line(_read_head(sock))
        except (OSError, ValueError):
            return
        host, _, port = target.rpartition(":")
        if method != "CONNECT":
            _refuse(sock, 405, f"This proxy only tunnels HTTPS (CONNECT) to {_SERVED}.")
            return
        if port != "443" or not API_HOST.fullmatch(host):
            _refuse(sock, 403, f"{target} is not served here; this proxy serves {_SERVED}.")
            self.server.log(f"Refused a tunnel to {target}: only {_SERVED} are served.")
            return
        sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        try:
            tls = self.server.tls_for(host).wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            # What a client that does not trust the authority does: hang up in the handshake.
            self.server.log(
                f"A client gave up the TLS handshake for {host}: run it with "
                f"NODE_EXTRA_CA_CERTS={self.server.authority.cert_file}."
            )
            return
        try:
            with tls:
                _serve_http(tls, host, self.server)
        except (OSError, h11.ProtocolError) as exc:
            self.server.log(f"A tunnel to {host} ended: {exc}.")


_SERVED = "the Serverless API's hosts (serverless[-upload][.edge.region].twilio.com:443)"


def _read_head(sock: socket.socket) -> bytes:
    """The proxy request's head, read byte by byte: nothing of the TLS behind it is taken."""
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte or len(head) > MAX_HEAD:
            raise ValueError("incomplete request head")
        head += byte
    return bytes(head)


def _request_line(head: bytes) -> tuple[str, str]:
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method.upper(), target


def _refuse(sock: socket.socket, status: int, message: str) -> None:
    reason = {403: "Forbidden", 405: "Method Not Allowed"}[status]
    body = (message + "\n").encode()
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(OSError):
        sock.sendall(head.encode() + body)


def _serve_http(tls: ssl.SSLSocket, host: str, proxy: TwilioProxy) -> None:
    """HTTP/1.1 requests inside the tunnel, one after another, until the client closes."""
    connection = h11.Connection(h11.SERVER)
    while True:
        request = _next_request(tls, connection)
        if request is None:
            return
        head, body = request
        path = head.target.decode("latin-1")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in head.headers
            if name.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        try:
            answer = proxy.client.request(head.method.decode(), path, headers=headers, content=body)
            status, content = answer.status_code, answer.content
            reply = [
                (k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP_BY_HOP
            ]
        except httpx.HTTPError as exc:
            status = 502
            content = f'{{"message": "callbox at {proxy.target} did not answer: {exc}"}}'.encode()
            reply = [("Content-Type", "application/json")]
        proxy.log(f"{status} {head.method.decode()} https://{host}{path}")
        reply.append(("Content-Length", str(len(content))))
        tls.sendall(connection.send(h11.Response(status_code=status, headers=reply)) or b"")
        tls.sendall(connection.send(h11.Data(data=content)) or b"")
        tls.sendall(connection.send(h11.EndOfMessage()) or b"")
        if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
            return
        connection.start_next_cycle()


def _next_request(
    tls: ssl.SSLSocket, connection: h11.Connection
) -> tuple[h11.Request, bytes] | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(tls.recv(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return head, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None
