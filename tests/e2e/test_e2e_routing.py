"""Routing, methods, CORS, cookie rules and the dev server's log lines, over a real socket."""

from __future__ import annotations

import re
import socket

import pytest

SCENARIO = "contract"


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.start(SCENARIO)


def assert_json_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    return body["message"]


# -- routes --------------------------------------------------------------------------------


def test_root_serves_assets_index_html(server):
    response = server.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>contract index page</h1>" in response.text


def test_index_html_also_served_at_its_own_path(server):
    response = server.client.get("/assets/index.html")
    assert response.status_code == 200
    assert "<h1>contract index page</h1>" in response.text


@pytest.mark.parametrize(
    ("path", "content_type", "content"),
    [
        ("/assets/style.css", "text/css", "body { color: #123456; }\n"),
        ("/docs/info.json", "application/json", '{"public": "asset"}\n'),
    ],
)
def test_assets_keep_extension_and_content_type(server, path, content_type, content):
    response = server.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.text == content


@pytest.mark.parametrize("path", ["/lib/helper", "/data.json", "/secret.txt"])
def test_private_functions_and_assets_are_404(server, path):
    response = server.client.get(path)
    message = assert_json_error(response, 404)
    assert message == f"The requested resource {path} was not found"
    assert "private" not in response.text


@pytest.mark.parametrize("path", ["/assets/style", "/text.py", "/functions/text", "/nope"])
def test_unknown_path_is_404_json(server, path):
    message = assert_json_error(server.client.get(path), 404)
    assert message == f"The requested resource {path} was not found"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(server, method):
    response = server.client.request(method, "/text")
    message = assert_json_error(response, 405)
    assert method in message
    assert response.headers["allow"] == "GET, POST, OPTIONS"


def test_head_on_a_function_is_405_without_a_body(server):
    response = server.client.head("/text")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert response.content == b""


def test_an_asset_is_served_as_a_static_file_server_would(server):
    # From issue 13: HEAD answered 405, and there was no ETag, Last-Modified, 304 or Range.
    content = (server.root / "assets" / "assets" / "style.css").read_bytes()
    head = server.client.head("/assets/style.css")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(content))
    assert head.headers["accept-ranges"] == "bytes"
    etag, modified = head.headers["etag"], head.headers["last-modified"]
    for condition in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        again = server.client.get("/assets/style.css", headers=condition)
        assert (again.status_code, again.content) == (304, b""), condition
        assert again.headers["etag"] == etag
    part = server.client.get("/assets/style.css", headers={"Range": "bytes=7-11"})
    assert (part.status_code, part.content) == (206, content[7:12])
    assert part.headers["content-range"] == f"bytes 7-11/{len(content)}"
    beyond = server.client.get("/assets/style.css", headers={"Range": "bytes=9999-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(content)}"
    # The connection is still good after each of these (no framing went wrong).
    assert server.client.get("/assets/style.css").content == content


def test_post_is_allowed(server):
    response = server.client.post("/text")
    assert response.status_code == 200
    assert response.text == "Hello, text"


def test_options_answers_cors_without_running_the_function(server):
    since = server.mark()
    response = server.client.options("/logs")
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    server.wait_for_line(r"^204 OPTIONS /logs ", since=since)
    assert not server.lines_matching(r"\] /logs: ", since=since)


def test_options_on_an_asset_answers_cors(server):
    response = server.client.options("/assets/style.css")
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"


@pytest.mark.parametrize("path", ["/text", "/assets/style.css"])
def test_get_responses_carry_no_cors_headers(server, path):
    response = server.client.get(path, headers={"Origin": "https://example.com"})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


# -- cookies -------------------------------------------------------------------------------


def test_set_cookie_adds_httponly_secure_and_replaces_domain(server):
    response = server.client.get("/cookie")
    assert response.status_code == 200
    assert response.text == "cookie set"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1
    attributes = [part.strip() for part in cookies[0].split(";")]
    assert attributes[0] == "flavor=oat"
    assert "Path=/" in attributes
    assert "HttpOnly" in attributes
    assert "Secure" in attributes
    assert "Domain=127.0.0.1" in attributes
    assert "Domain=evil.example" not in attributes


def test_cookie_domain_follows_the_host_the_client_used(server):
    response = server.client.get("/cookie", headers={"Host": "example.test:8080"})
    assert response.status_code == 200
    attributes = [part.strip() for part in response.headers["set-cookie"].split(";")]
    assert "Domain=example.test" in attributes


def test_cookie_max_age_over_a_day_is_400(server):
    response = server.client.get("/cookie-too-old")
    assert response.status_code == 400
    assert "Cookies max-age cannot be greater than a day" in response.text
    assert "set-cookie" not in response.headers


# -- logs ----------------------------------------------------------------------------------


def test_function_output_becomes_tagged_log_lines(server):
    since = server.mark()
    response = server.client.get("/logs")
    assert response.status_code == 200
    assert response.text == "logged"
    server.wait_for_line(r"^200 GET /logs ", since=since)
    lines = server.lines_matching(r"\] /logs: ", since=since)
    assert [line.strip() for line in lines] == [
        "[INFO] /logs: a print line",
        "[WARN] /logs: a warning line",
        "[ERROR] /logs: an error line",
        "[ERROR] /logs: a stderr line",
    ]


def test_one_request_line_per_request_with_method_path_status(server):
    since = server.mark()
    assert server.client.get("/text").status_code == 200
    assert server.client.post("/error-str").status_code == 500
    assert server.client.get("/missing-page").status_code == 404
    server.settle(since)
    lines = server.stdout_lines()[since:]
    request_lines = [line for line in lines if re.match(r"^\d{3} [A-Z]+ /", line)]
    assert re.fullmatch(r"200 GET /text \d+\.\d ms", request_lines[0])
    assert re.fullmatch(r"500 POST /error-str \d+\.\d ms", request_lines[1])
    assert re.fullmatch(r"404 GET /missing-page \d+\.\d ms", request_lines[2])
    assert len(request_lines) == 4  # the three above and settle()'s marker


def raw(port, data):
    """Send ``data`` on a new connection; everything answered until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_websocket_handshake_is_a_clean_400(server):
    # From issue 13 (the gateway's own refusal, as `callbox start` serves it).
    handshake = (
        f"GET /text HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    answer = raw(server.port, handshake.encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"WebSocket connections are not supported" in answer
    assert not [line for line in server.stderr_lines() if "Traceback" in line], server.output()


def test_two_host_headers_are_a_400(server):
    request = (
        f"GET /text HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nHost: other.test\r\n"
        "Connection: close\r\n\r\n"
    )
    answer = raw(server.port, request.encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"2 Host headers" in answer
