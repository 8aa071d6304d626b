"""`callbox deploy` and `callbox promote` against a real `callbox serve` (spec section 7.8-7.10)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

from callbox.toolkit.scaffolding import init_project

HELLO = 'def handler(context, event, callback):\n    callback(None, "hello {}")\n'


def project(tmp_path: Path, name: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / name
    for relative, text in (files or {"functions/hello.py": HELLO.format(name)}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def deploy(toolkit: Any, root: Path, *args: str) -> dict[str, Any]:
    return dict(toolkit.deploy(root, *args))


def versions(toolkit: Any, service: str) -> int:
    """How many function and asset versions the service holds."""
    client = toolkit.server.client
    total = 0
    for collection, key in (("Functions", "functions"), ("Assets", "assets")):
        for resource in client.get(f"/v1/Services/{service}/{collection}").json()[key]:
            listing = client.get(f"/v1/Services/{service}/{collection}/{resource['sid']}/Versions")
            total += len(listing.json()[f"{key[:-1]}_versions"])
    return total


def fetch(toolkit: Any, domain: str, path: str) -> Any:
    with toolkit.server.environment(domain) as client:
        return client.get(path)


def test_scaffold_deploys_and_serves_every_printed_url(toolkit: Any, tmp_path: Path) -> None:
    root = init_project("first", tmp_path)
    result = toolkit.run("deploy", cwd=root)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Deployment Details" in out and "[protected]" in out and "[private]" in out
    assert "Serverless project successfully deployed" in result.stderr
    summary = deploy(toolkit, root)  # the same project again: same service, a new build
    assert summary["serviceName"] == "first" and summary["environmentSuffix"] == "dev"
    assert summary["domain"].startswith("first-") and summary["domain"].endswith("-dev.localhost")
    urls = {entry["path"]: entry for entry in summary["functions"] + summary["assets"]}
    assert (
        urls["/hello-world"]["url"]
        == f"http://{summary['domain']}:{toolkit.server.port}/hello-world"
    )
    assert fetch(toolkit, summary["domain"], "/hello-world").text == "Hello World!"
    assert fetch(toolkit, summary["domain"], "/assets/style.css").status_code == 200
    assert fetch(toolkit, summary["domain"], "/sms/reply").status_code == 403  # unsigned
    assert urls["/data.json"]["url"] == 'Runtime.get_assets()["/data.json"]'
    assert fetch(toolkit, summary["domain"], "/data.json").status_code == 404
    order = [e["access"] for e in summary["functions"]]
    assert order == sorted(order, key=["private", "protected", "public"].index)
    info = json.loads((root / ".twiliodeployinfo").read_text())
    key = f"{toolkit.server.account_sid}:us1"
    assert info == {key: {"serviceSid": summary["serviceSid"], "latestBuild": summary["buildSid"]}}
    assert (root / ".twiliodeployinfo").read_text().startswith("{\n\t")


def test_redeploy_uploads_only_what_changed(toolkit: Any, tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "changes",
        {
            "functions/a.py": HELLO.format("a"),
            "functions/b.protected.py": HELLO.format("b"),
            "assets/logo.txt": "logo",
        },
    )
    first = deploy(toolkit, root)
    assert versions(toolkit, first["serviceSid"]) == 3
    result = toolkit.run("deploy", cwd=root)
    assert result.exit_code == 0, result.output
    assert "(0 uploaded, 3 unchanged)" in result.stderr
    assert versions(toolkit, first["serviceSid"]) == 3
    (root / "functions/a.py").write_text(HELLO.format("a, edited"))
    second = deploy(toolkit, root)
    assert versions(toolkit, first["serviceSid"]) == 4
    assert second["buildSid"] != first["buildSid"]
    assert fetch(toolkit, second["domain"], "/a").text == "hello a, edited"
    # Same content, other visibility: a new version, not the old one.
    (root / "functions/b.protected.py").rename(root / "functions/b.py")
    third = deploy(toolkit, root)
    assert versions(toolkit, first["serviceSid"]) == 5
    assert fetch(toolkit, third["domain"], "/b").text == "hello b"
    # Without .twiliodeployinfo the environment's current build still avoids uploads.
    (root / ".twiliodeployinfo").unlink()
    result = toolkit.run("deploy", "--service-sid", first["serviceSid"], cwd=root)
    assert result.exit_code == 0 and "(0 uploaded, 3 unchanged)" in result.stderr


def test_environments_production_and_sid(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "places")
    dev = deploy(toolkit, root)
    stage = deploy(toolkit, root, "--environment", "stage")
    production = deploy(toolkit, root, "--production")
    assert stage["domain"].endswith("-stage.localhost")
    assert production["environmentSuffix"] == "" and production["domain"].count("-") == 1
    assert len({dev["environmentSid"], stage["environmentSid"], production["environmentSid"]}) == 3
    again = deploy(toolkit, root, "--environment", stage["environmentSid"])
    assert again["environmentSid"] == stage["environmentSid"]
    envs = toolkit.server.client.get(f"/v1/Services/{dev['serviceSid']}/Environments").json()
    names = {e["unique_name"] for e in envs["environments"]}
    assert names == {"dev-environment", "stage-environment", "production"}
    missing = toolkit.run("deploy", "--environment", "ZE" + "0" * 32, cwd=root)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_service_names_and_conflicts(toolkit: Any, tmp_path: Path) -> None:
    one = project(tmp_path / "a", "shared-name")
    two = project(tmp_path / "b", "shared-name")
    first = deploy(toolkit, one)
    clash = toolkit.run("deploy", cwd=two)
    assert clash.exit_code == 1
    assert f'Service with name "shared-name" already exists with SID "{first["serviceSid"]}"' in (
        clash.output
    )
    assert "--override-existing-project" in clash.output and "Traceback" not in clash.output
    assert not (two / ".twiliodeployinfo").exists()
    for flag in ("--override-existing-project", "--force"):
        (two / ".twiliodeployinfo").unlink(missing_ok=True)
        assert deploy(toolkit, two, flag)["serviceSid"] == first["serviceSid"]
    # .twiliodeployinfo names the service: --service-name does not move the project (7.8).
    kept = toolkit.run("deploy", "--service-name", "other-name", cwd=one)
    assert kept.exit_code == 0, kept.output
    assert (
        f"WARNING --service-name other-name is not used: this project deploys to "
        f"{first['serviceSid']} (.twiliodeployinfo)."
    ) in kept.stderr
    services = toolkit.server.client.get("/v1/Services").json()["services"]
    assert "other-name" not in {s["unique_name"] for s in services}
    info = json.loads((one / ".twiliodeployinfo").read_text())
    assert [v["serviceSid"] for v in info.values()] == [first["serviceSid"]]
    old = project(tmp_path, "old-flag")
    renamed = toolkit.run("deploy", "--project-name", "via-old-flag", cwd=old)
    assert renamed.exit_code == 0, renamed.output
    assert "WARNING --project-name is deprecated; use --service-name." in renamed.stderr
    assert "via-old-flag" in renamed.stdout
    py = project(tmp_path, "py_folder")
    (py / "pyproject.toml").write_text('[project]\nname = "from.pyproject"\n')
    assert deploy(toolkit, py)["serviceName"] == "from-pyproject"
    bare = project(tmp_path, "my_folder")
    assert deploy(toolkit, bare)["serviceName"] == "my-folder"
    gone = toolkit.run("deploy", "--service-sid", "ZS" + "0" * 32, cwd=bare)
    assert gone.exit_code == 1 and "was not found" in gone.output


def test_variables_folders_and_categories(toolkit: Any, tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "vars",
        {
            "src/echo.py": "def handler(context, event, callback):\n"
            "    callback(None, {'greeting': getattr(context, 'GREETING', None),"
            " 'token': getattr(context, 'AUTH_TOKEN', None)})\n",
            "static/page.html": "<p>hi</p>",
            "other/extra.py": HELLO.format("extra"),
            ".env": "GREETING=Ahoy\nEMPTY=\nACCOUNT_SID=AC123\nAUTH_TOKEN=secret\n",
        },
    )
    summary = deploy(toolkit, root, "--username", toolkit.server.account_sid)
    env_base = f"/v1/Services/{summary['serviceSid']}/Environments/{summary['environmentSid']}"
    variables = toolkit.server.client.get(f"{env_base}/Variables").json()["variables"]
    assert {v["key"]: v["value"] for v in variables} == {"GREETING": "Ahoy"}
    echoed = fetch(toolkit, summary["domain"], "/echo").json()
    assert echoed["greeting"] == "Ahoy" and echoed["token"] != "secret"
    only = deploy(toolkit, root, "--no-assets")
    assert only["assets"] == [] and [f["path"] for f in only["functions"]] == ["/echo"]
    assert fetch(toolkit, only["domain"], "/page.html").status_code == 404
    custom = deploy(toolkit, root, "--functions-folder", "other", "--no-assets")
    assert [f["path"] for f in custom["functions"]] == ["/extra"]
    missing = toolkit.run("deploy", "--functions-folder", "nowhere", cwd=root)
    assert missing.exit_code == 1 and "nowhere" in missing.output
    nothing = toolkit.run("deploy", "--no-functions", "--no-assets", cwd=root)
    assert nothing.exit_code == 1 and "Nothing to deploy" in nothing.output
    env_file = toolkit.run("deploy", "--env", ".env.missing", cwd=root)
    assert env_file.exit_code == 1
    assert f'Failed to find .env file at "{root / ".env.missing"}"' in env_file.output


def test_failed_build_is_one_line(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "broken", {"functions/bad.py": "def handler(:\n"})
    result = toolkit.run_process("deploy", cwd=root)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: Build ZB") and "failed" in lines[-1]
    assert "/bad does not compile" in lines[-1] and "Traceback" not in result.stderr
    runtime = toolkit.run("deploy", "--runtime", "node22", cwd=root)
    assert runtime.exit_code == 1 and "node22" in runtime.output


def test_config_file_scopes_choose_environment_and_folders(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "configured", {"lambdas/x.py": HELLO.format("x")})
    (root / ".twilioserverlessrc").write_text(
        '// JSON5\n{ functionsFolder: "lambdas", commands: { deploy: { environment: "qa" } },'
        " environments: { qa: { assets: false } }, }\n"
    )
    summary = deploy(toolkit, root)
    assert summary["environmentSuffix"] == "qa" and summary["functions"][0]["path"] == "/x"
    flagged = deploy(toolkit, root, "--environment", "dev")  # a flag given wins
    assert flagged["environmentSuffix"] == "dev"
    (root / ".twilioserverlessrc").write_text("{ broken")
    bad = toolkit.run("deploy", cwd=root)
    assert bad.exit_code == 1 and ".twilioserverlessrc" in bad.output


def test_promote_and_activate(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "promoted")
    dev = deploy(toolkit, root)
    result = toolkit.run("promote", "--source-environment", "dev", "--production", cwd=root)
    assert result.exit_code == 1 and "--create-environment" in result.output
    result = toolkit.run(
        "promote", "--from", "dev", "--production", "--create-environment", cwd=root
    )
    assert result.exit_code == 0, result.output
    assert "Active build available at:" in result.stdout
    # From issue 13: -l none (and warn, error) still printed the summary.
    for level in ("none", "warn", "error"):
        quiet = toolkit.run("promote", "--from", "dev", "--production", "-l", level, cwd=root)
        assert quiet.exit_code == 0, quiet.output
        assert quiet.stdout == "" and quiet.stderr == "", (level, quiet.output)
    prod = toolkit.run("promote", "--from", "dev", "--production", "-o", "json", cwd=root)
    assert prod.exit_code == 0, prod.output
    live = json.loads(prod.stdout)
    assert live["buildSid"] == dev["buildSid"] and live["environmentSuffix"] == ""
    assert fetch(toolkit, live["domain"], "/hello").text == "hello promoted"
    (root / "functions/hello.py").write_text(HELLO.format("v2"))
    deploy(toolkit, root)
    assert fetch(toolkit, live["domain"], "/hello").text == "hello promoted"  # prod unchanged
    back = toolkit.run(
        "activate", "--build-sid", dev["buildSid"], "--environment", "dev", "-o", "json", cwd=root
    )
    assert back.exit_code == 0, back.output
    assert fetch(toolkit, dev["domain"], "/hello").text == "hello promoted"
    neither = toolkit.run("promote", "--production", cwd=root)
    assert neither.exit_code == 1 and "either a build SID" in neither.output
    empty = toolkit.run("promote", "--from", "nowhere", "--to", "dev", cwd=root)
    assert empty.exit_code == 1 and "Could not determine build SID" in empty.output
    no_service = tmp_path / "elsewhere"
    no_service.mkdir()
    lost = toolkit.run("promote", "--from", "dev", "--production", cwd=no_service)
    assert lost.exit_code == 1 and "--service-sid" in lost.output


def test_promoting_a_build_that_is_still_building_says_so(
    servers: Any, toolkit_on: Any, tmp_path: Path
) -> None:
    # A package index that accepts connections and never answers: a build with a dependency
    # stays "building" (uv waits on it) for as long as the test needs.
    with socket.socket() as index:
        index.bind(("127.0.0.1", 0))
        index.listen()
        server = servers.serve(
            env={
                "CALLBOX_INDEX_URL": f"http://127.0.0.1:{index.getsockname()[1]}/simple",
                "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            }
        )
        toolkit = toolkit_on(server)
        root = project(tmp_path, "waiting")
        dev = deploy(toolkit, root)
        base = f"/v1/Services/{dev['serviceSid']}"
        built = server.client.get(f"{base}/Builds/{dev['buildSid']}").json()
        created = server.client.post(
            f"{base}/Builds",
            data={
                "FunctionVersions": [v["sid"] for v in built["function_versions"]],
                "Dependencies": json.dumps([{"name": "neverdep", "version": "0.1"}]),
                "Runtime": "python3.11",
            },
        )
        assert created.status_code == 201, created.text
        slow = created.json()["sid"]

        result = toolkit.run("promote", "--build-sid", slow, "--environment", "dev", cwd=root)

        assert server.client.get(f"{base}/Builds/{slow}/Status").json()["status"] == "building"
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"Error: Build {slow} is still building; wait for status completed (is build {slow} "
            "still building, or already live?)"
        ]


def test_copy_of_a_deployed_project_keeps_its_service(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "copied")
    first = deploy(toolkit, root)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert deploy(toolkit, copy)["serviceSid"] == first["serviceSid"]


def test_an_api_key_redeploys_and_finds_its_service(toolkit: Any, tmp_path: Path) -> None:
    created = toolkit.server.client.post(
        f"/2010-04-01/Accounts/{toolkit.server.account_sid}/Keys.json",
        data={"FriendlyName": "deploys"},
    )
    key, secret = created.json()["sid"], created.json()["secret"]
    root = project(tmp_path, "keyed")
    as_key = ("--url", toolkit.server.base_url, "-u", key, "--password", secret)
    first = toolkit.run("deploy", *as_key, "-o", "json", cwd=root, auth=False)
    assert first.exit_code == 0, first.output
    info = json.loads((root / ".twiliodeployinfo").read_text())
    assert list(info) == [f"{toolkit.server.account_sid}:us1"]
    again = toolkit.run("deploy", *as_key, cwd=root, auth=False)
    assert again.exit_code == 0, again.output
    assert "(0 uploaded, 1 unchanged)" in again.stderr
    listed = toolkit.run("list", "environments", *as_key, "-o", "json", cwd=root, auth=False)
    assert listed.exit_code == 0, listed.output


def test_config_values_are_checked_by_the_flags_types(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "typed")
    for text, key in (
        ('{ "force": "false" }', "\"force\" is 'false': expected true or false"),
        ('{ "functionsFolder": ["a"] }', '"functionsFolder" is'),
        ('{ "logLevel": "verbose" }', '"logLevel" is'),
        ('{ "outputFormat": "xml" }', '"outputFormat" is'),
    ):
        (root / ".twilioserverlessrc").write_text(text)
        result = toolkit.run("deploy", cwd=root)
        assert result.exit_code == 1, text
        [line] = result.output.strip().splitlines()
        assert str(root / ".twilioserverlessrc") in line and key in line, line
    assert not (root / ".twiliodeployinfo").exists()


def test_the_url_as_users_write_it(toolkit: Any, tmp_path: Path) -> None:
    # A server that is not callbox's API: tests/e2e/test_e2e_toolkit_errors.py.
    root = project(tmp_path, "urls")
    with_v1 = toolkit.run("deploy", "--url", f"{toolkit.server.base_url}/v1/", cwd=root)
    assert with_v1.exit_code == 0, with_v1.output  # the README prints the API as .../v1
    bad = toolkit.run("deploy", "--url", "notaurl", cwd=root)
    assert bad.exit_code == 1 and '"notaurl" is not a server URL' in bad.output


def test_a_failed_first_deploy_does_not_block_the_next(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "second-try", {"functions/x.py": "def handler(:\n"})
    failed = toolkit.run("deploy", cwd=root)
    assert failed.exit_code == 1 and "does not compile" in failed.output
    (root / "functions/x.py").write_text(HELLO.format("fixed"))
    summary = deploy(toolkit, root)  # no --force: .twiliodeployinfo names the service
    assert fetch(toolkit, summary["domain"], "/x").text == "hello fixed"


def test_a_first_deploy_failing_before_its_build_remembers_the_service(
    toolkit: Any, tmp_path: Path
) -> None:
    # From issue 13: a deploy failing after creating the service left no .twiliodeployinfo, so
    # a plain rerun failed with "already exists" until --force.
    root = project(tmp_path, "half-way")
    failed = toolkit.run("deploy", "--runtime", "python2.7", cwd=root)  # the build is refused
    assert failed.exit_code == 1 and "python2.7" in failed.output, failed.output
    info = json.loads((root / ".twiliodeployinfo").read_text())
    [entry] = info.values()
    assert entry["serviceSid"].startswith("ZS") and entry["latestBuild"] == ""
    summary = deploy(toolkit, root)  # no --force
    assert summary["serviceSid"] == entry["serviceSid"]
    assert fetch(toolkit, summary["domain"], "/hello").text == "hello half-way"
    [entry] = json.loads((root / ".twiliodeployinfo").read_text()).values()
    assert entry["latestBuild"] == summary["buildSid"]


def test_project_problems_are_said_before_anything_is_uploaded(
    toolkit: Any, tmp_path: Path
) -> None:
    import os

    cases = {
        "env-key": ({".env": "lower-case=1\n"}, '"lower-case" cannot be a variable name'),
        "env-size": ({".env": f"BIG={'x' * 500}\n"}, "the value of BIG is 500 bytes"),
        "env-total": (
            {".env": "".join(f"K{i}={'v' * 400}\n" for i in range(10))},
            "all variables together",
        ),
        "req-option": ({"requirements.txt": "-e git+https://x/y\n"}, "is a pip option"),
        "req-binary": ({"requirements.txt": "\xff"}, "not a UTF-8 text file"),
        "mixed": (
            {"functions/hello.js": "exports.handler = 1"},
            "Found JavaScript: functions/hello.js; Python: functions/hello.py.",
        ),
    }
    for name, (files, message) in cases.items():
        root = project(tmp_path, name, {"functions/hello.py": HELLO.format(name), **files})
        if name == "req-binary":
            (root / "requirements.txt").write_bytes(b"\xff\xfe")
        result = toolkit.run("deploy", cwd=root)
        assert result.exit_code == 1, (name, result.output)
        [line] = result.output.strip().splitlines()[-1:]
        assert message in line, (name, line)
        services = toolkit.server.client.get("/v1/Services").json()["services"]
        # Each is checked before the service is even created.
        assert name not in {s["unique_name"] for s in services}
    root = project(tmp_path, "pipe")
    (root / "assets").mkdir()
    os.mkfifo(root / "assets" / "pipe.txt")
    result = toolkit.run("deploy", cwd=root)
    assert result.exit_code == 1 and "is not a regular file" in result.output


def test_size_limits_are_said_before_anything_is_created(toolkit: Any, tmp_path: Path) -> None:
    root = project(tmp_path, "too-big")
    (root / "assets").mkdir()
    with open(root / "assets" / "big.private.bin", "wb") as out:
        out.truncate(10 * 1024 * 1024 + 1)  # sparse: one byte over the private limit
    result = toolkit.run("deploy", cwd=root)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert "a private asset may be at most 10 MB" in line, line
    services = toolkit.server.client.get("/v1/Services").json()["services"]
    assert "too-big" not in {s["unique_name"] for s in services}
    (root / "assets" / "big.private.bin").unlink()
    assert deploy(toolkit, root)["serviceName"] == "too-big"  # no leftover service in the way


def test_a_key_of_an_account_without_services_gets_its_projects_scope(
    toolkit: Any, tmp_path: Path
) -> None:
    import httpx

    server = toolkit.server
    created = server.client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "new"})
    sid, token = created.json()["sid"], created.json()["auth_token"]
    with httpx.Client(base_url=server.base_url, auth=(sid, token)) as as_account:
        made = as_account.post(f"/2010-04-01/Accounts/{sid}/Keys.json", data={}).json()
    root = project(tmp_path, "p3")
    (root / ".twilioserverlessrc").write_text(
        json.dumps({"projects": {sid: {"serviceName": "scoped-by-account"}}})
    )
    as_key = ("--url", server.base_url, "-u", made["sid"], "--password", made["secret"])
    result = toolkit.run("deploy", *as_key, "-o", "json", cwd=root, auth=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["serviceName"] == "scoped-by-account"
    assert list(json.loads((root / ".twiliodeployinfo").read_text())) == [f"{sid}:us1"]
