"""The failures every command that talks to a server shares, said the same way by each: one
``Error:`` line on stderr, exit status 1, no traceback. Three servers go wrong: one that cannot
be reached (a port bound on 127.0.0.1 that does not listen), the real ``callbox serve`` refusing
a wrong password (401, saying where the credentials came from), and a web server that is not
callbox's API. ``deploy`` runs as a real process; the other commands in-process."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toolkit_output import one_error_line

from callbox.toolkit.buckets import STORE_FILE
from callbox.toolkit.credentials import write_private
from callbox.toolkit.deployinfo import record

SERVICE = "ZS" + "0" * 32
ENVIRONMENT = "ZE" + "0" * 32
HELLO = 'def handler(context, event, callback):\n    callback(None, "hi")\n'
REFUSED = (
    "Error: The server refused the credentials (401): check the account SID and auth token, "
    "or the API key and secret"
)
# Every command reaches the server: the project looks deployed (.twiliodeployinfo) and an
# assets bucket is stored, so nothing stops a command before its first request.
COMMANDS = {
    "deploy": ["deploy", "-o", "json"],  # JSON: no progress lines, and nothing on stdout
    "list": ["list"],
    "logs": ["logs"],
    "env list": ["env", "list"],
    "promote": ["promote", "--from", "dev", "--production"],
    "assets list": ["assets", "list"],
    "login": ["login", "--profile", "checked"],
}
IN_A_PROCESS = {"deploy"}
KINDS = ("unreachable", "refused", "not-the-api")
CASES = [
    pytest.param(command, kind, id=f"{command}-{kind}") for command in COMMANDS for kind in KINDS
]


class _Site(http.server.SimpleHTTPRequestHandler):
    """Any web server: HTML error pages (404 for GET, 501 for POST), never callbox's JSON."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def not_the_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    handler = functools.partial(_Site, directory=str(tmp_path_factory.mktemp("site")))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()
        thread.join(5)


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_a_server_that_fails_is_one_error_line(
    toolkit: Any,
    unreachable: str,
    not_the_api: str,
    tmp_path: Path,
    command: str,
    kind: str,
) -> None:
    server = toolkit.server
    url = {"unreachable": unreachable, "refused": server.base_url, "not-the-api": not_the_api}[kind]
    password = "wrong" if kind == "refused" else server.auth_token
    project = tmp_path / "project"
    (project / "functions").mkdir(parents=True)
    (project / "functions" / "hello.py").write_text(HELLO)
    record(project, server.account_sid, None, SERVICE, "ZB" + "0" * 32)
    config = tmp_path / "config"
    bucket = {"serviceSid": SERVICE, "environmentSid": ENVIRONMENT, "domain": "b.localhost"}
    write_private(config / STORE_FILE, {f"{url}|{server.account_sid}": bucket})
    args = [*COMMANDS[command], "--url", url, "-u", server.account_sid, "--password", password]
    env = {"CALLBOX_CONFIG_DIR": str(config)}

    if command in IN_A_PROCESS:
        done = toolkit.run_process(*args, cwd=project, auth=False, env=env)
        status, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        result = toolkit.run(*args, cwd=project, auth=False, env=env)
        status, stdout, stderr = result.exit_code, result.stdout, result.stderr

    assert status == 1, stderr
    assert stdout == ""
    line = one_error_line(stderr)
    if kind == "unreachable":
        assert line.startswith(f"Error: Cannot reach the callbox server at {url}: "), line
        assert line.endswith("Is it running (callbox serve), and is the URL right?"), line
    elif kind == "refused":
        # login checks the pair it was given; the other commands say which source gave it.
        source = "." if command == "login" else " (they came from --username/--password)."
        assert line == REFUSED + source
    else:
        assert line.startswith("Error: HTTP ") and f" from {url}/v1/" in line, line
        assert line.endswith(
            "the answer is not callbox's API (no JSON error). Check --url: it is the server's "
            "address, e.g. http://127.0.0.1:8080."
        ), line
    if command == "login":
        assert not (config / "profiles.json").exists()  # a failed check saves nothing
