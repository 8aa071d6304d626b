"""A recording reverse proxy for end-to-end tests: what a client really sends to the API.

``Recorder(server_url)`` listens on a free port of 127.0.0.1, forwards every request as it came
(method, path, headers, body; the Host header too, so the API's absolute URLs lead back through
it) to the server and answers with the server's answer. Each request is kept as a
:class:`Recorded`, whose ``form()`` and ``parts()`` read url-encoded and multipart bodies. Used
as a context manager, it stops on leaving the block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass(frozen=True)
class Part:
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # the server's answer

    def form(self) -> dict[str, list[str]]:
        """The url-encoded body: name -> values in order (empty values kept)."""
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def parts(self) -> dict[str, Part]:
        """The multipart/form-data body: field name -> part."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        found = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            found[str(name)] = Part(
                part.get_filename(),
                part.get("content-type"),
                payload if isinstance(payload, bytes) else b"",
            )
        return found


class Recorder:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60.0, verify=False)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
                answer = recorder._client.request(
                    self.command, recorder.target + self.path, headers=headers, content=body
                )
                url = urlsplit(self.path)
                with recorder._lock:
                    recorder.requests.append(
                        Recorded(
                            self.command,
                            url.path,
                            url.query,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            answer.status_code,
                        )
                    )
                self.send_response(answer.status_code)
                for key, value in answer.headers.multi_items():
                    if key.lower() not in _HOP_BY_HOP | {"content-encoding", "date", "server"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_DELETE = do_PUT = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def of(self, method: str, path_suffix: str) -> list[Recorded]:
        """The recorded requests with this method whose path ends with ``path_suffix``."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
