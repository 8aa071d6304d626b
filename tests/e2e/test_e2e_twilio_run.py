"""Twilio's own toolkit, unchanged, deploying to callbox: the real `twilio-run` from npm runs
with HTTP_PROXY pointing at a real `callbox twilio-proxy`, which hands its requests to a real
`callbox serve` (README, "Coming from Twilio's toolkit").

twilio-run is installed with npm once into CALLBOX_TEST_NPM/twilio-run (default
~/.cache/callbox-tests/npm/twilio-run), like conftest's node_modules fixture.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recording import Recorder

# The npm cache folder of tests/conftest.py's node_modules fixture.
NPM_FOLDER = Path(
    os.environ.get("CALLBOX_TEST_NPM", Path.home() / ".cache" / "callbox-tests" / "npm")
)
TWILIO_RUN_MAJOR = "5"
TWILIO_RUN_FOLDER = NPM_FOLDER / "twilio-run"
TWILIO_INIT = Path(__file__).resolve().parents[1] / "functions" / "twilio_init"


def _twilio_run_ready() -> Path | None:
    manifest = TWILIO_RUN_FOLDER / "node_modules" / "twilio-run" / "package.json"
    if not manifest.is_file():
        return None
    if not json.loads(manifest.read_text())["version"].startswith(f"{TWILIO_RUN_MAJOR}."):
        return None
    return manifest.parent / "bin" / "twilio-run.js"


@pytest.fixture(scope="session")
def twilio_run() -> Path:
    """The `twilio-run` script of npm's twilio-run 5, installed once when missing."""
    ready = _twilio_run_ready()
    if ready is not None:
        return ready
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: this test installs twilio-run with it")
    TWILIO_RUN_FOLDER.mkdir(parents=True, exist_ok=True)
    with open(TWILIO_RUN_FOLDER / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _twilio_run_ready() is None:
            manifest = TWILIO_RUN_FOLDER / "package.json"
            if not manifest.exists():
                manifest.write_text('{"name": "callbox-test-twilio-run", "private": true}\n')
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", f"twilio-run@{TWILIO_RUN_MAJOR}"],
                cwd=TWILIO_RUN_FOLDER,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                pytest.fail(f"npm install twilio-run failed:\n{done.stdout}{done.stderr}")
    ready = _twilio_run_ready()
    assert ready is not None
    return ready


class Proxy:
    """A running `callbox twilio-proxy`: its URL, its authority's certificate, its log."""

    def __init__(self, target: str, ca_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "callbox", "twilio-proxy", "--url", target, "--port", "0"]
            + ["--ca-dir", str(ca_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")},
            start_new_session=True,
            # Ctrl+C as a terminal gives it, even when the test run was started in the
            # background (which leaves SIGINT ignored, and that survives exec).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            found = re.search(r"Listening on (http://\S+)", line)
            if found:
                self.url = found[1]
                break
        else:
            raise AssertionError(f"twilio-proxy did not start:\n{self.output()}")
        self.ca = ca_dir / "ca.pem"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)  # Ctrl+C
        try:
            return self.process.wait(10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(5)


@contextlib.contextmanager
def proxy_to(target: str, tmp_path: Path) -> Iterator[Proxy]:
    proxy = Proxy(target, tmp_path / "ca")
    try:
        yield proxy
    finally:
        status = proxy.stop()
    assert status == -signal.SIGINT, f"twilio-proxy ended with {status}:\n{proxy.output()}"


def run_twilio_run(
    script: Path, proxy: Proxy, cwd: Path, *args: str, trust: bool = True
) -> subprocess.CompletedProcess[str]:
    """`twilio-run ARGS` in ``cwd``, as its user would run it against callbox."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS"}
    }
    env.update({"HTTP_PROXY": proxy.url, "CI": "1", "HOME": str(cwd.parent)})
    if trust:
        env["NODE_EXTRA_CA_CERTS"] = str(proxy.ca)
    return subprocess.run(
        ["node", str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def connect(proxy: Proxy, target: str) -> str:
    """The proxy's answer (status line and headers) to ``CONNECT target``."""
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


def credentials(server: Any) -> list[str]:
    return ["--username", server.account_sid, "--password", server.auth_token]


def test_twilio_run_deploys_to_callbox_through_the_proxy(
    servers: Any, twilio_run: Path, tmp_path: Path
) -> None:
    server = servers.serve()
    root = tmp_path / "from-twilio-run"
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "hello.txt").write_text("hello via twilio-run")
    deps = {"twilio": "5.0.3", "@twilio/runtime-handler": "2.0.3"}
    (root / "package.json").write_text(
        json.dumps({"name": "from-twilio-run", "dependencies": deps})
    )
    (root / ".env").write_text("GREETING=Ahoy\n")
    with Recorder(server.base_url) as recorder, proxy_to(recorder.url, tmp_path) as proxy:
        done = run_twilio_run(twilio_run, proxy, root, "deploy", "-o", "json", *credentials(server))
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{proxy.output()}"
        summary = json.loads(done.stdout[done.stdout.index("{") :])
        listed = run_twilio_run(twilio_run, proxy, root, "list", "services", *credentials(server))
        assert listed.returncode == 0, listed.stderr
    # It reached callbox: the service, its environment and .twiliodeployinfo are callbox's.
    service = server.client.get("/v1/Services/from-twilio-run").json()
    assert summary["serviceSid"] == service["sid"] and summary["serviceName"] == "from-twilio-run"
    assert service["sid"] in listed.stdout
    info = json.loads((root / ".twiliodeployinfo").read_text())
    assert info == {
        f"{server.account_sid}:us1": {
            "serviceSid": service["sid"],
            "latestBuild": summary["buildSid"],
        }
    }
    with server.environment(summary["domain"]) as client:
        assert client.get("/hello.txt").text == "hello via twilio-run"
    environment = f"/v1/Services/{service['sid']}/Environments/{summary['environmentSid']}"
    variables = server.client.get(f"{environment}/Variables").json()["variables"]
    assert {(v["key"], v["value"]) for v in variables} == {("GREETING", "Ahoy")}
    # What Twilio's client sent, as the server saw it: its own Dependencies form, its agent.
    [build] = recorder.of("POST", "/Builds")
    assert build.form()["Dependencies"] == [
        '"[{"name":"twilio","version":"5.0.3"},'
        '{"name":"@twilio/runtime-handler","version":"2.0.3"}]"'
    ]
    assert "twilio-run" in build.headers["user-agent"]
    [upload] = recorder.of("POST", "/Versions")
    assert upload.parts()["Content"].content == b"hello via twilio-run"
    assert any("POST https://serverless-upload.twilio.com/v1/" in line for line in proxy.lines)


def test_the_proxy_serves_nothing_but_the_serverless_api(
    servers: Any, twilio_run: Path, tmp_path: Path
) -> None:
    server = servers.serve()
    root = tmp_path / "untrusting"
    root.mkdir()
    (root / "package.json").write_text('{"name": "untrusting"}')
    with proxy_to(server.base_url, tmp_path) as proxy:
        # Without NODE_EXTRA_CA_CERTS Node.js does not trust the proxy's certificates.
        done = run_twilio_run(
            twilio_run, proxy, root, "list", "services", *credentials(server), trust=False
        )
        assert done.returncode != 0
        assert "self-signed certificate" in done.stdout + done.stderr
        # Any other host is refused: the proxy is no open door to the internet.
        for target in ("example.com:443", "serverless.twilio.com:80", "api.twilio.com:443"):
            assert connect(proxy, target).startswith("HTTP/1.1 403 Forbidden"), target
        assert connect(proxy, "serverless.twilio.com:443").startswith("HTTP/1.1 200")
    assert "gave up the TLS handshake for serverless.twilio.com" in proxy.output()
    # The authority can vouch for twilio.com names only (a critical Name Constraints).
    from cryptography import x509

    ca = x509.load_pem_x509_certificate(proxy.ca.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.permitted_subtrees == [x509.DNSName("twilio.com")]
    assert oct((tmp_path / "ca" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_twilio_run_deploys_a_twilio_init_project_unchanged(
    servers: Any, twilio_run: Path, tmp_path: Path
) -> None:
    server = servers.serve()
    root = tmp_path / "my-twilio-app"
    shutil.copytree(TWILIO_INIT, root)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    major = int(node.stdout.strip().lstrip("v").split(".")[0])
    # Its config asks for node22; a server with an older Node.js refuses that by design.
    args = [] if major >= 22 else ["--runtime", f"node{major}"]
    with proxy_to(server.base_url, tmp_path) as proxy:
        done = run_twilio_run(
            twilio_run, proxy, root, "deploy", "-o", "json", *credentials(server), *args
        )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    with server.environment(summary["domain"]) as client:
        response = client.get("/hello-world")
        assert response.status_code == 200, response.text
        [say] = list(ET.fromstring(response.text))
        assert (say.tag, say.text) == ("Say", "Hello World!")
        assert client.post("/sms/reply").status_code == 403
