"""``callbox list`` (alias ``ls``) against a real ``callbox serve``: every type, the columns
(--properties, --extended-output), ``-o json``, and the errors (unknown type, no service,
a type that fails)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def write_project(root: Path) -> Path:
    (root / "functions").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "functions" / "hello.py").write_text(
        'def handler(context, event, callback):\n    print("line")\n    callback(None, "hi")\n'
    )
    (root / "functions" / "secret.protected.py").write_text(
        'def handler(context, event, callback):\n    callback(None, "s")\n'
    )
    (root / "assets" / "style.css").write_text("body { color: red; }\n")
    (root / "assets" / "data.private.json").write_text('{"a": 1}\n')
    (root / ".env").write_text("GREETING=hello\nACCOUNT_SID=ignored\n")
    return root


@pytest.fixture(scope="module")
def deployed(toolkit: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = write_project(tmp_path_factory.mktemp("list") / "list-project")
    return {"project": project, **toolkit.deploy(project)}


def run_table(toolkit: Any, project: Path, *args: str) -> list[str]:
    """The text output's lines; a wide terminal, so that no cell is folded."""
    result = toolkit.run("list", *args, cwd=project, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.stdout.splitlines()]


def run_json(toolkit: Any, project: Path, *args: str) -> dict[str, Any]:
    result = toolkit.run("list", *args, "-o", "json", cwd=project)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_default_lists_services_as_a_table(toolkit: Any, deployed: dict[str, Any]) -> None:
    lines = run_table(toolkit, deployed["project"])
    assert lines[0] == "Services:"
    assert lines[1].split() == ["SID", "UNIQUE", "NAME", "DATE", "CREATED"]
    assert any(deployed["serviceSid"] in line and "list-project" in line for line in lines)


def test_ls_is_an_alias(toolkit: Any, deployed: dict[str, Any]) -> None:
    result = toolkit.run("ls", "services", cwd=deployed["project"])
    assert result.exit_code == 0, result.output
    assert deployed["serviceSid"] in result.stdout


def test_every_type_as_json(toolkit: Any, deployed: dict[str, Any]) -> None:
    types = "services, environments,builds,functions,assets,variables"
    found = run_json(toolkit, deployed["project"], types)
    assert list(found) == ["services", "environments", "builds", "functions", "assets", "variables"]
    assert deployed["serviceSid"] in [s["sid"] for s in found["services"]]
    [environment] = found["environments"]
    assert environment["sid"] == deployed["environmentSid"]
    assert environment["build_sid"] == deployed["buildSid"]
    assert [b["sid"] for b in found["builds"]] == [deployed["buildSid"]]
    functions = {f["path"]: f for f in found["functions"]}
    assert functions["/hello"]["visibility"] == "public"
    assert functions["/hello"]["url"].endswith(f"{deployed['domain']}:{toolkit.server.port}/hello")
    assert functions["/secret"]["visibility"] == "protected"
    assets = {a["path"]: a for a in found["assets"]}
    assert assets["/style.css"]["url"].startswith("http://")
    assert assets["/data.json"]["url"] == 'Runtime.get_assets()["/data.json"]'
    # Values shown; never the credentials.
    assert [(v["key"], v["value"]) for v in found["variables"]] == [("GREETING", "hello")]


def test_functions_table_with_urls(toolkit: Any, deployed: dict[str, Any]) -> None:
    lines = run_table(toolkit, deployed["project"], "functions")
    assert lines[0].startswith("Functions of environment dev-environment")
    assert deployed["buildSid"] in lines[0]
    assert lines[1].split() == ["PATH", "VISIBILITY", "URL"]
    hello = next(line for line in lines if line.startswith("/hello"))
    url = f"http://{deployed['domain']}:{toolkit.server.port}/hello"
    assert hello.split() == ["/hello", "public", url]


def test_functions_and_assets_are_in_the_deploy_summarys_order(
    toolkit: Any, deployed: dict[str, Any]
) -> None:
    # Twilio's order (spec 7.10): private, protected, public, then by path.
    found = run_json(toolkit, deployed["project"], "functions,assets")
    assert [(f["visibility"], f["path"]) for f in found["functions"]] == [
        ("protected", "/secret"),
        ("public", "/hello"),
    ]
    assert [(a["visibility"], a["path"]) for a in found["assets"]] == [
        ("private", "/data.json"),
        ("public", "/style.css"),
    ]
    for kind in ("functions", "assets"):
        summary = [(e["access"], e["path"], e["url"]) for e in deployed[kind]]
        listed = [(e["visibility"], e["path"], e["url"]) for e in found[kind]]
        assert listed == summary
    lines = run_table(toolkit, deployed["project"], "functions")
    assert [line.split()[0] for line in lines[2:]] == ["/secret", "/hello"]


def test_the_url_answers(toolkit: Any, deployed: dict[str, Any]) -> None:
    found = run_json(toolkit, deployed["project"], "functions")
    hello = next(f for f in found["functions"] if f["path"] == "/hello")
    with toolkit.server.environment(deployed["domain"]) as web:
        assert web.get(hello["path"]).text == "hi"


def test_variables_and_environments_tables(toolkit: Any, deployed: dict[str, Any]) -> None:
    text = "\n".join(run_table(toolkit, deployed["project"], "environments,variables"))
    assert "Environments of service" in text
    assert deployed["domain"] in text and deployed["buildSid"] in text
    assert "Variables of environment dev-environment" in text
    assert any(line.split() == ["GREETING", "hello"] for line in text.splitlines())


def test_properties_choose_the_columns(toolkit: Any, deployed: dict[str, Any]) -> None:
    project = deployed["project"]
    lines = run_table(toolkit, project, "services", "--properties", "sid, friendly_name")
    assert lines[1].split() == ["SID", "FRIENDLY", "NAME"]
    found = run_json(toolkit, project, "builds", "--properties", "sid,status")
    assert found["builds"] == [{"sid": deployed["buildSid"], "status": "completed"}]


def test_extended_output_shows_more(toolkit: Any, deployed: dict[str, Any]) -> None:
    lines = run_table(toolkit, deployed["project"], "builds", "--extended-output")
    assert lines[1].split()[:3] == ["SID", "STATUS", "RUNTIME"]
    row = next(line for line in lines if deployed["buildSid"] in line)
    assert row.split()[1:5] == ["completed", "python3.11", "2", "2"]


def test_production_without_a_deployment_fails_that_type(
    toolkit: Any, deployed: dict[str, Any]
) -> None:
    # No production environment: functions cannot be listed; services still are, exit 1.
    result = toolkit.run("list", "services,functions", "--production", cwd=deployed["project"])
    assert result.exit_code == 1
    assert deployed["serviceSid"] in result.stdout
    assert "WARNING Could not list functions: Could not find environment production" in (
        result.stderr
    )
    assert result.stderr.strip().splitlines()[-1].startswith("Error: Could not list functions")


def test_unknown_type(toolkit: Any, deployed: dict[str, Any]) -> None:
    result = toolkit.run("list", "services,fonctions", cwd=deployed["project"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: Unknown type(s) to list: fonctions. Valid types: services, environments, "
        "builds, functions, assets, variables (comma-separated, e.g. `callbox list "
        "environments,functions`)."
    )


def test_without_a_service(toolkit: Any, tmp_path: Path) -> None:
    # Services need none; anything else does, and no .twiliodeployinfo is here.
    assert toolkit.run("list", cwd=tmp_path).exit_code == 0
    result = toolkit.run("list", "builds", cwd=tmp_path)
    assert result.exit_code == 1
    assert "No service given" in result.stderr and "--service-sid" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_service_by_sid_and_by_name(toolkit: Any, deployed: dict[str, Any], tmp_path: Path) -> None:
    by_sid = run_json(toolkit, tmp_path, "builds", "--service-sid", deployed["serviceSid"])
    by_name = run_json(toolkit, tmp_path, "builds", "--service-name", "list-project")
    assert by_sid == by_name
    assert [b["sid"] for b in by_sid["builds"]] == [deployed["buildSid"]]


def test_unknown_service_warns_per_type(toolkit: Any, tmp_path: Path) -> None:
    result = toolkit.run("list", "environments,builds", "--service-sid", "nope", cwd=tmp_path)
    assert result.exit_code == 1
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2
    assert "Traceback" not in result.output
