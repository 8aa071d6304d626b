"""`callbox deploy` of JavaScript projects against a real `callbox serve`, seen through a
recording proxy (recording.py): what the toolkit uploads, the Build request's Runtime and
Dependencies, and what it refuses before sending anything.

tests/functions/twilio_init/ is a project exactly as Twilio's `twilio serverless:init` makes it
(create-twilio-function 3.6.0 with twilio-run 4.2.0, MIT licensed): its example functions and
assets, package.json (twilio 5.0.3, an exact @twilio/runtime-handler, twilio-run as a
devDependency), the default .twilioserverlessrc with `"runtime": "node22"`, .env with the
Twilio credentials, .nvmrc, .gitignore (Twilio's two lines, then an excerpt of GitHub's Node
template, which init downloads), and the .twiliodeployinfo a deploy to Twilio leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from recording import Recorder
from twilio.request_validator import RequestValidator

from callbox.toolkit.cli import cli

TWILIO_INIT = Path(__file__).resolve().parents[1] / "functions" / "twilio_init"
TWILIO_ACCOUNT = "AC0123456789abcdef0123456789abcdef"  # the fixture's Twilio account


def node_major() -> int:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().lstrip("v").split(".")[0])


def copy_fixture(tmp_path: Path) -> Path:
    root = tmp_path / "my-twilio-app"
    shutil.copytree(TWILIO_INIT, root)
    return root


def deploy_via(recorder: Recorder, server: Any, root: Path, *args: str) -> Result:
    """`callbox deploy ARGS` in ``root`` through ``recorder``, as its owner."""
    argv = ["deploy", "--url", recorder.url, "-u", server.account_sid]
    argv += ["--password", server.auth_token, *args]
    previous = Path.cwd()
    try:
        os.chdir(root)
        return CliRunner().invoke(cli, argv, env={"CALLBOX_CONFIG_DIR": str(root / ".cfg")})
    finally:
        os.chdir(previous)


def build_request(recorder: Recorder) -> dict[str, list[str]]:
    [build] = recorder.of("POST", "/Builds")
    return build.form()


def twiml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


# --- what the toolkit sends (any server) -----------------------------------------------------


def test_a_twilio_init_project_is_uploaded_as_twilios_toolkit_sends_it(
    servers: Any, tmp_path: Path
) -> None:
    server = servers.serve()
    root = copy_fixture(tmp_path)
    with Recorder(server.base_url) as recorder:
        deploy_via(recorder, server, root)  # serving it: the test below

    [service] = recorder.of("POST", "/v1/Services")
    assert service.form()["UniqueName"] == ["my-twilio-app"]  # package.json's name
    uploads = {}
    for request in recorder.of("POST", "/Versions"):
        parts = request.parts()
        uploads[parts["Path"].content.decode()] = (
            parts["Visibility"].content.decode(),
            parts["Content"].content_type,
            parts["Content"].content,
        )
    functions = TWILIO_INIT / "functions"
    assets = TWILIO_INIT / "assets"
    assert uploads == {
        "/hello-world": (
            "public",
            "application/javascript",
            (functions / "hello-world.js").read_bytes(),
        ),
        "/private-message": (
            "public",
            "application/javascript",
            (functions / "private-message.js").read_bytes(),
        ),
        "/sms/reply": (
            "protected",
            "application/javascript",
            (functions / "sms/reply.protected.js").read_bytes(),
        ),
        "/index.html": ("public", "text/html", (assets / "index.html").read_bytes()),
        "/message.js": (
            "private",
            "text/javascript",
            (assets / "message.private.js").read_bytes(),
        ),
        "/style.css": ("public", "text/css", (assets / "style.css").read_bytes()),
    }
    form = build_request(recorder)
    assert form["Runtime"] == ["node22"]  # the .twilioserverlessrc's runtime
    # package.json's dependencies, as Twilio's serverless-api sends them: compact JSON in quotes.
    assert form["Dependencies"] == [
        '"[{"name":"twilio","version":"5.0.3"},'
        '{"name":"@twilio/runtime-handler","version":"2.0.3"}]"'
    ]
    assert len(form["FunctionVersions"]) == 3 and len(form["AssetVersions"]) == 3
    # The Twilio credentials in .env are never uploaded as variables.
    for request in recorder.requests:
        assert TWILIO_ACCOUNT.encode() not in request.body
        assert b"0123456789abcdef0123456789abcdef" not in request.body
    # Twilio's account entry in .twiliodeployinfo stays; callbox's is added next to it.
    info = json.loads((root / ".twiliodeployinfo").read_text())
    assert info[f"{TWILIO_ACCOUNT}:us1"]["serviceSid"] == "ZS0123456789abcdef0123456789abcdef"
    created = server.client.get("/v1/Services/my-twilio-app").json()["sid"]
    assert info[f"{server.account_sid}:us1"]["serviceSid"] == created


def test_an_assets_only_javascript_project_deploys_with_its_dependencies(
    toolkit: Any, tmp_path: Path
) -> None:
    root = tmp_path / "bucket"
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "hello.txt").write_text("hello from a JavaScript project")
    (root / "functions").mkdir()
    (root / "functions" / "types.ts").write_text("export type Id = string;\n")
    (root / "package.json").write_text(
        json.dumps({"name": "js-bucket", "dependencies": {"@twilio/runtime-handler": "2.0.3"}})
    )
    with Recorder(toolkit.server.base_url) as recorder:
        result = deploy_via(recorder, toolkit.server, root)
    assert result.exit_code == 0, result.output
    assert "js-bucket" in result.stdout  # package.json's name
    # Nothing is left out without a word: the .ts file is named on stderr.
    assert (
        "WARNING Not deployed, as they are not functions (.py or .js files): functions/types.ts."
        in result.stderr
    )
    assert "Dependencies    @twilio/runtime-handler (package.json)" in result.stderr
    assert "Runtime         default" in result.stderr
    form = build_request(recorder)
    assert "Runtime" not in form  # no functions: the server's default
    assert form["Dependencies"] == ['"[{"name":"@twilio/runtime-handler","version":"2.0.3"}]"']
    [domain] = [
        line.removeprefix("Domain: ") for line in result.stdout.splitlines() if "Domain: " in line
    ]
    with toolkit.server.environment(domain) as client:
        assert client.get("/hello.txt").text == "hello from a JavaScript project"


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        (
            {"functions/a.js": "exports.handler = () => {};", "functions/b.py": "x = 1"},
            [],
            "Found JavaScript: functions/a.js; Python: functions/b.py.",
        ),
        (
            {"functions/a.js": "exports.handler = () => {};"},
            ["--runtime", "python3.12"],
            "The runtime python3.12 runs Python, but the functions of",
        ),
        (
            {
                "functions/a.js": "exports.handler = () => {};",
                "package.json": '{"dependencies": {"@twilio/runtime-handler": "^2.0.3"}}',
            },
            [],
            "Invalid @twilio/runtime-handler version in ",
        ),
    ],
    ids=["mixed", "python-runtime", "runtime-handler-range"],
)
def test_project_problems_stop_the_deploy_before_any_request(
    toolkit: Any, tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    root = tmp_path / "refused"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    with Recorder(toolkit.server.base_url) as recorder:
        result = deploy_via(recorder, toolkit.server, root, *args)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert line.startswith("Error: ") and message in line, line
    assert recorder.requests == []


# --- deployed and served (needs the server's Node.js runtime) -----------------------------


def test_a_twilio_init_project_deploys_unchanged_and_serves(toolkit: Any, tmp_path: Path) -> None:
    root = copy_fixture(tmp_path)
    # The folder is used as it is. Its config asks for node22 (Twilio's default); a server with
    # an older Node.js refuses that by design, so on such a machine the flag names its own.
    major = node_major()
    args = [] if major >= 22 else ["--runtime", f"node{major}"]
    summary = toolkit.deploy(root, *args)
    assert summary["serviceName"] == "my-twilio-app"
    assert summary["runtime"] == ("node22" if major >= 22 else f"node{major}")
    listed = {e["path"]: e["access"] for e in summary["functions"] + summary["assets"]}
    assert listed == {
        "/hello-world": "public",
        "/private-message": "public",
        "/sms/reply": "protected",
        "/index.html": "public",
        "/message.js": "private",
        "/style.css": "public",
    }
    server = toolkit.server
    with server.environment(summary["domain"]) as client:
        [say] = list(twiml(client.get("/hello-world")))
        assert (say.tag, say.text) == ("Say", "Hello World!")
        [message] = list(twiml(client.post("/private-message", data={"Body": "hi"})))
        assert (message.tag, message.text) == ("Message", "This is private!")
        assert client.get("/index.html").status_code == 200
        assert client.get("/message.js").status_code == 404  # private
        assert client.post("/sms/reply", data={"Body": "hi"}).status_code == 403  # unsigned
        url = f"http://{summary['domain']}:{server.port}/sms/reply"
        signed = RequestValidator(server.auth_token).compute_signature(url, {"Body": "hi"})
        reply = client.post(
            "/sms/reply", data={"Body": "hi"}, headers={"X-Twilio-Signature": signed}
        )
        [message] = list(twiml(reply))
        assert message.text == "Hello World!"
    # .env held only the Twilio credentials: no variable was set.
    variables = server.client.get(
        f"/v1/Services/{summary['serviceSid']}/Environments/{summary['environmentSid']}/Variables"
    ).json()["variables"]
    assert variables == []


def test_callbox_init_javascript_with_a_template_deploys_and_serves(
    toolkit: Any, tmp_path: Path
) -> None:
    result = toolkit.run(
        "init", "js-auth", "--language", "js", "--path", str(tmp_path), cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "js-auth"
    result = toolkit.run("new", "auth", "--template", "jwt-auth", cwd=root)
    assert result.exit_code == 0, result.output
    with (root / ".env").open("a") as env:
        env.write("\nJWT_SECRET=a-test-secret-of-more-than-32-characters\nPASSWORD=open sesame\n")
    summary = toolkit.deploy(root)
    assert summary["runtime"].startswith("node")
    with toolkit.server.environment(summary["domain"]) as client:
        [say] = list(twiml(client.get("/hello-world")))
        assert say.text == "Hello World!"
        token = client.post("/auth/login", data={"password": "open sesame"}).json()["token"]
        data = client.get("/auth/data", headers={"Authorization": f"Bearer {token}"})
        assert data.status_code == 200 and data.json()["message"] == "Hello demo!"


def test_twilios_credentials_in_env_are_refused_with_a_hint(toolkit: Any, tmp_path: Path) -> None:
    root = copy_fixture(tmp_path)
    argv = ["deploy", "--url", toolkit.server.base_url]  # no credentials: .env's are Twilio's
    previous = Path.cwd()
    try:
        os.chdir(root)
        result = CliRunner().invoke(cli, argv, env={"CALLBOX_CONFIG_DIR": str(tmp_path / "cfg")})
    finally:
        os.chdir(previous)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert "(they came from .env (" in line
    assert line.endswith(
        "If they are Twilio's, use callbox's: -p PROFILE or --username/--password."
    )
