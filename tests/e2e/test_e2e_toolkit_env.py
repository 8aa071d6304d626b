"""``callbox env set|get|list|unset|import`` against a real ``callbox serve``: the exact
messages, a change reaching the deployed function without a redeploy, import deleting what the
file lacks, the server's limits as one line, production vs environment,
and the ``env`` scope of the config file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

FUNCTION = 'def handler(context, event, callback):\n    callback(None, context.get("X", "unset"))\n'


@pytest.fixture(scope="module")
def deployed(toolkit: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = tmp_path_factory.mktemp("env") / "env-project"
    (project / "functions").mkdir(parents=True)
    (project / "functions" / "x.py").write_text(FUNCTION)
    (project / ".env").write_text("GREETING=hello\n")
    found: dict[str, Any] = {"project": project}
    for name, flag in (("dev", "--environment=dev"), ("production", "--production")):
        result = toolkit.run("deploy", flag, "-o", "json", cwd=project)
        assert result.exit_code == 0, result.output
        found[name] = json.loads(result.stdout)
    return found


def env(toolkit: Any, deployed: dict[str, Any], *args: str, **kw: Any) -> Any:
    return toolkit.run("env", *args, cwd=kw.pop("cwd", deployed["project"]), **kw)


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def one_error(result: Any) -> str:
    """The single ``Error: ...`` line of a failed command."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    return str(line)


def missing_message(deployed: dict[str, Any], key: str, name: str = "dev") -> str:
    info = deployed[name]
    return (
        f"Error: Could not find environment variable with name {key} for service "
        f'"{info["serviceSid"]}" and environment "{info["environmentSid"]}".'
    )


def test_set_get_and_the_function_sees_it(toolkit: Any, deployed: dict[str, Any], e2e: Any) -> None:
    with toolkit.server.environment(deployed["dev"]["domain"]) as web:
        assert web.get("/x").text == "unset"
        set_ = env(toolkit, deployed, "set", "--key", "X", "--value", "first")
        assert ok(set_) == "X has been set\n"
        assert ok(env(toolkit, deployed, "get", "--key", "X")) == "first\n"
        assert e2e.wait_until(lambda: web.get("/x").text == "first", timeout=5.0)
        # Set again: an update, seen by the next invocation, no redeploy.
        changed = env(toolkit, deployed, "set", "--key", "X", "--value", "second")
        assert ok(changed) == "X has been set\n"
        assert ok(env(toolkit, deployed, "get", "--key", "X")) == "second\n"
        assert e2e.wait_until(lambda: web.get("/x").text == "second", timeout=5.0)
        assert ok(env(toolkit, deployed, "unset", "--key", "X")) == "X has been deleted\n"
        assert e2e.wait_until(lambda: web.get("/x").text == "unset", timeout=5.0)


def test_get_or_unset_a_missing_key(toolkit: Any, deployed: dict[str, Any]) -> None:
    expected = missing_message(deployed, "NOPE")
    assert one_error(env(toolkit, deployed, "get", "--key", "NOPE")) == expected
    assert one_error(env(toolkit, deployed, "unset", "--key", "NOPE")) == expected


def test_list_hides_values_unless_asked(toolkit: Any, deployed: dict[str, Any]) -> None:
    ok(env(toolkit, deployed, "set", "--key", "LISTED", "--value", "v 1"))
    hidden = ok(env(toolkit, deployed, "list")).splitlines()
    assert "GREETING Use --show-values to display value" in hidden
    assert "LISTED Use --show-values to display value" in hidden
    shown = ok(env(toolkit, deployed, "list", "--show-values")).splitlines()
    assert "GREETING hello" in shown and "LISTED v 1" in shown
    as_json = json.loads(ok(env(toolkit, deployed, "list", "--show-values", "-o", "json")))
    assert as_json["serviceSid"] == deployed["dev"]["serviceSid"]
    assert as_json["environmentSid"] == deployed["dev"]["environmentSid"]
    assert {"key": "LISTED", "value": "v 1"} in as_json["variables"]
    without = json.loads(ok(env(toolkit, deployed, "list", "-o", "json")))
    assert {"key": "LISTED", "value": None} in without["variables"]
    ok(env(toolkit, deployed, "unset", "--key", "LISTED"))


def test_import_replaces_the_remote_set(toolkit: Any, deployed: dict[str, Any]) -> None:
    for key, value in (("A", "old"), ("B", "gone soon")):
        ok(env(toolkit, deployed, "set", "--key", key, "--value", value))
    (deployed["project"] / ".env.import").write_text(
        "A=new\nC=3\nGREETING=hello\nACCOUNT_SID=AC123\nAUTH_TOKEN=secret\nEMPTY=\n"
    )
    result = env(toolkit, deployed, "import", "--env", ".env.import")
    assert ok(result) == "Environment variables updated\n"
    listed = json.loads(ok(env(toolkit, deployed, "list", "--show-values", "-o", "json")))
    found = {v["key"]: v["value"] for v in listed["variables"]}
    assert found == {"A": "new", "C": "3", "GREETING": "hello"}
    for key in ("A", "C"):
        ok(env(toolkit, deployed, "unset", "--key", key))


def test_import_needs_a_file(toolkit: Any, deployed: dict[str, Any], tmp_path: Path) -> None:
    sid = deployed["dev"]["serviceSid"]
    line = one_error(env(toolkit, deployed, "import", "--service-sid", sid, cwd=tmp_path))
    assert line.startswith(f'Error: Failed to find .env file at "{tmp_path.resolve()}/.env"')
    missing = one_error(env(toolkit, deployed, "import", "--env", "nope.env", cwd=tmp_path))
    assert missing == f'Error: Failed to find .env file at "{tmp_path.resolve()}/nope.env"'
    # Nothing was removed.
    assert ok(env(toolkit, deployed, "get", "--key", "GREETING")) == "hello\n"


def test_limits_come_out_as_one_line(toolkit: Any, deployed: dict[str, Any]) -> None:
    # Said before any request, naming where the value came from.
    line = one_error(env(toolkit, deployed, "set", "--key", "BIG", "--value", "x" * 451))
    assert line == (
        "Error: --key/--value: the value of BIG is 451 bytes; a variable holds at most 450 "
        "bytes. Keep large data in a private asset instead."
    )
    for number in range(6):  # about 450 bytes of JSON each
        ok(env(toolkit, deployed, "set", "--key", f"FILL{number}", "--value", "y" * 440))
    line = one_error(env(toolkit, deployed, "set", "--key", "FILL6", "--value", "y" * 440))
    assert "at most 3,072" in line  # the server's limit: the others are already there
    bad = one_error(env(toolkit, deployed, "set", "--key", "1BAD", "--value", "v"))
    assert bad.startswith('Error: --key/--value: "1BAD" cannot be a variable name')
    for number in range(6):
        ok(env(toolkit, deployed, "unset", "--key", f"FILL{number}"))


def test_production_and_environments_are_apart(toolkit: Any, deployed: dict[str, Any]) -> None:
    ok(env(toolkit, deployed, "set", "--key", "WHERE", "--value", "prod", "--production"))
    assert ok(env(toolkit, deployed, "get", "--key", "WHERE", "--production")) == "prod\n"
    # --production wins over --environment.
    both = env(toolkit, deployed, "get", "--key", "WHERE", "--environment", "dev", "--production")
    assert ok(both) == "prod\n"
    dev = env(toolkit, deployed, "get", "--key", "WHERE", "--environment", "dev")
    assert one_error(dev) == missing_message(deployed, "WHERE")
    with toolkit.server.environment(deployed["production"]["domain"]) as web:
        assert web.get("/x").text == "unset"
    ok(env(toolkit, deployed, "unset", "--key", "WHERE", "--production"))


def test_config_scope_env(toolkit: Any, deployed: dict[str, Any], tmp_path: Path) -> None:
    shutil.copy(deployed["project"] / ".twiliodeployinfo", tmp_path)
    (tmp_path / ".twilioserverlessrc").write_text(
        '{"commands": {"env": {"production": true}, "deploy": {"environment": "nope"}}}'
    )
    ok(env(toolkit, deployed, "set", "--key", "SCOPED", "--value", "p", cwd=tmp_path))
    assert ok(env(toolkit, deployed, "get", "--key", "SCOPED", "--production")) == "p\n"
    ok(env(toolkit, deployed, "unset", "--key", "SCOPED", "--production"))


def test_unknown_environment(toolkit: Any, deployed: dict[str, Any]) -> None:
    line = one_error(env(toolkit, deployed, "list", "--environment", "stage"))
    assert line.startswith('Error: Could not find environment "stage" in service')


def test_missing_credentials(toolkit: Any, deployed: dict[str, Any]) -> None:
    server = toolkit.server
    missing = toolkit.run(
        "env", "list", "--url", server.base_url, cwd=deployed["project"], auth=False
    )
    assert "credential" in one_error(missing).lower()
