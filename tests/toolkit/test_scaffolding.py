from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import json5
import pytest
from dotenv import dotenv_values

from callbox.toolkit import packagejson, scaffolding
from callbox.toolkit.project import Layout, discover, project_language
from callbox.toolkit.rcfile import find_config, normalise, snake_case, specialize
from callbox.toolkit.scaffolding import (
    JS_SCAFFOLD_DIR,
    SCAFFOLD_DIR,
    InitError,
    RcFlag,
    default_rc_text,
    init_project,
)

EXPECTED_FILES = {
    "functions/hello-world.py",
    "functions/sms/reply.protected.py",
    "functions/lib/greeting.private.py",
    "functions/greet.py",
    "functions/data.py",
    "assets/assets/index.html",
    "assets/assets/style.css",
    "assets/data.private.json",
    ".env",
    "requirements.txt",
    "README.md",
    ".gitignore",
    ".twilioserverlessrc",
}

SCAFFOLD_PY_FILES = sorted(
    p.relative_to(SCAFFOLD_DIR).as_posix()
    for p in SCAFFOLD_DIR.rglob("*.py")
    if "__pycache__" not in p.parts
)


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _top_level_functions(source: str) -> set[str]:
    tree = ast.parse(source)
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_init_creates_all_scaffold_files(tmp_path: Path) -> None:
    project = init_project("my-app", tmp_path)

    assert project == tmp_path / "my-app"
    assert _files(project) == EXPECTED_FILES


def test_init_fills_in_project_name(tmp_path: Path) -> None:
    project = init_project("office_bot2", tmp_path)

    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "office_bot2" in readme
    assert "{{name}}" not in readme
    # The bundled scaffold itself stays a template.
    assert "{{name}}" in (SCAFFOLD_DIR / "README.md").read_text(encoding="utf-8")


def test_init_copies_contents_verbatim(tmp_path: Path) -> None:
    project = init_project("app", tmp_path)

    for relative in EXPECTED_FILES - {"README.md"}:
        assert (project / relative).read_bytes() == (SCAFFOLD_DIR / relative).read_bytes()


def test_init_skips_pycache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A scaffold whose functions have been imported holds bytecode caches; they must not leak.
    scaffold = tmp_path / "scaffold"
    shutil.copytree(SCAFFOLD_DIR, scaffold)
    cache = scaffold / "functions" / "__pycache__"
    cache.mkdir()
    (cache / "greet.cpython-311.pyc").write_bytes(b"\0")
    monkeypatch.setattr(scaffolding, "SCAFFOLD_DIR", scaffold)

    project = init_project("app", tmp_path / "out")

    assert not list(project.rglob("__pycache__"))
    assert _files(project) == EXPECTED_FILES


def test_init_accepts_existing_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()

    project = init_project("app", tmp_path)

    assert _files(project) == EXPECTED_FILES


def test_init_refuses_non_empty_directory(tmp_path: Path) -> None:
    existing = tmp_path / "app"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(InitError) as excinfo:
        init_project("app", tmp_path)

    message = str(excinfo.value)
    assert str(existing) in message
    assert "already exists and is not empty" in message
    assert "choose another name or remove it" in message
    # Nothing was copied over the user's files.
    assert _files(existing) == {"keep.txt"}


def test_init_refuses_existing_file(tmp_path: Path) -> None:
    (tmp_path / "app").write_text("not a directory", encoding="utf-8")

    with pytest.raises(InitError, match="already exists"):
        init_project("app", tmp_path)


@pytest.mark.parametrize(
    "name",
    ["has space", "../escape", "a/b", "dot.name", "émoji", "semi;colon", "trailing\n"],
)
def test_init_rejects_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InitError, match="letters, digits, dashes and underscores"):
        init_project(name, tmp_path)

    assert not any(tmp_path.iterdir())


def test_init_rejects_empty_name(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="must not be empty"):
        init_project("", tmp_path)


def test_init_error_is_value_error() -> None:
    assert issubclass(InitError, ValueError)


def test_scaffold_data_asset_is_valid_json() -> None:
    data = json.loads((SCAFFOLD_DIR / "assets/data.private.json").read_text(encoding="utf-8"))
    assert data


@pytest.mark.parametrize("relative", SCAFFOLD_PY_FILES)
def test_scaffold_function_compiles_and_defines_entry_point(relative: str) -> None:
    source = (SCAFFOLD_DIR / relative).read_text(encoding="utf-8")
    compile(source, relative, "exec")

    # The private helper is a library module; every routable function needs a handler.
    expected = "greet" if relative == "functions/lib/greeting.private.py" else "handler"
    assert expected in _top_level_functions(source)


def test_scaffold_python_files_are_the_expected_ones() -> None:
    assert set(SCAFFOLD_PY_FILES) == {f for f in EXPECTED_FILES if f.endswith(".py")}


def test_gitignore_starts_with_twilios_lines_and_keeps_ours(tmp_path: Path) -> None:
    # Spec 7.3: the .gitignore init writes starts with "# Twilio Serverless" / ".twiliodeployinfo".
    project = init_project("app", tmp_path)
    lines = (project / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["# Twilio Serverless", ".twiliodeployinfo"]
    assert {".callbox/", "__pycache__/", ".env"} <= set(lines)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ignores_the_deploy_info_secrets_and_caches_but_not_the_code(tmp_path: Path) -> None:
    project = init_project("app", tmp_path)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    paths = [".twiliodeployinfo", ".env", ".callbox/state.db", "functions/__pycache__/a.pyc"]
    paths += ["functions/hello-world.py", ".gitignore", ".twilioserverlessrc"]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.stdout.splitlines() == paths[:4]


# -- `callbox init` flags, as Twilio's `init` has them ------------------------------------


def _init(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from click.testing import CliRunner

    from callbox.toolkit.cli import cli

    result = CliRunner().invoke(cli, ["init", *args, "--path", str(tmp_path)], env=env)
    return result.exit_code, result.output


def test_init_writes_credentials_into_env(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "creds", "-a", "AC" + "1" * 32, "-t", "tok")
    assert code == 0, out
    values = dotenv_values(tmp_path / "creds" / ".env")
    assert values["ACCOUNT_SID"] == "AC" + "1" * 32 and values["AUTH_TOKEN"] == "tok"
    assert values["GREETING"] == "Hello"  # the rest of the scaffold's .env is kept
    text = (tmp_path / "creds" / ".env").read_text()
    assert text.count("ACCOUNT_SID=") == 1 and "# ACCOUNT_SID" not in text


def test_init_imports_credentials_from_the_shell(tmp_path: Path) -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC" + "2" * 32, "TWILIO_AUTH_TOKEN": "shell"}
    code, out = _init(tmp_path, "imported", "--import-credentials", env=env)
    assert code == 0, out
    values = dotenv_values(tmp_path / "imported" / ".env")
    assert values["ACCOUNT_SID"] == env["TWILIO_ACCOUNT_SID"] and values["AUTH_TOKEN"] == "shell"
    code, out = _init(
        tmp_path,
        "nothing",
        "--import-credentials",
        env={"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""},
    )
    assert code == 1 and "TWILIO_ACCOUNT_SID" in out and not (tmp_path / "nothing").exists()


def test_init_empty_with_a_template(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "bot", "--empty", "--template", "hello-messaging")
    assert code == 0, out
    files = _files(tmp_path / "bot")
    assert not any(f.startswith("functions/hello-world") for f in files)
    assert any(f.startswith("functions/hello-messaging/") for f in files)
    assert "readmes/hello-messaging/hello-messaging.md" in files


def test_init_unknown_template_creates_nothing(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "nope", "--template", "no-such-template")
    assert code == 1 and "no-such-template" in out
    assert not (tmp_path / "nope").exists()


ACCOUNT = "AC" + "0" * 32


# --- Default file --------------------------------------------------------------------------


def test_scaffold_config_parses_to_empty_sections() -> None:
    text = (SCAFFOLD_DIR / ".twilioserverlessrc").read_text(encoding="utf-8")
    assert json5.loads(text) == {"commands": {}, "environments": {}, "projects": {}}


def test_scaffold_config_is_the_generated_text() -> None:
    # The scaffold is a static file (init copies it); this keeps it in step with DEFAULT_FLAGS.
    assert (SCAFFOLD_DIR / ".twilioserverlessrc").read_text(encoding="utf-8") == default_rc_text()


def test_scaffold_config_sets_no_flag_runtime_included(tmp_path: Path) -> None:
    project = init_project("app", tmp_path)

    rc = find_config(project, home=tmp_path)

    assert rc.path == (project / ".twilioserverlessrc").resolve()
    assert specialize(rc, "deploy", environment="", account_sid=ACCOUNT, region="ie1") == {}


def test_scaffold_config_lists_every_default_flag_commented_out() -> None:
    text = default_rc_text()
    for flag in scaffolding.DEFAULT_FLAGS:
        assert f'  // "{flag.name}": ' in text
    assert '// "runtime": null' in text
    assert '// "environment": "dev"' in text
    assert '// "overrideExistingProject": false' in text


def test_uncommented_default_lines_set_their_defaults() -> None:
    # Uncommenting every line gives a valid file whose flags are the listed defaults.
    text = default_rc_text().replace("  // ", "  ")
    data = normalise(json5.loads(text))
    flags = {snake_case(flag.name): flag.default for flag in scaffolding.DEFAULT_FLAGS}
    assert data == {"commands": {}, "environments": {}, "projects": {}, **flags}


def test_default_rc_text_refuses_a_description_that_ends_the_comment() -> None:
    with pytest.raises(ValueError, match="contains"):
        default_rc_text([RcFlag("port", 1, "oops */ here")])


def test_default_rc_text_with_no_flags_parses() -> None:
    assert json5.loads(default_rc_text([])) == {"commands": {}, "environments": {}, "projects": {}}


# --- JavaScript projects: Twilio's `serverless:init` layout (spec 7.3) -----------------------

JS_FILES = {
    "functions/hello-world.js",
    "functions/private-message.js",
    "functions/sms/reply.protected.js",
    "assets/index.html",
    "assets/message.private.js",
    "assets/style.css",
    "package.json",
    "jsconfig.json",
    ".twilioserverlessrc",
    ".env",
    ".gitignore",
    "README.md",
}
JS_SCAFFOLD_FUNCTIONS = sorted(
    p.relative_to(JS_SCAFFOLD_DIR).as_posix() for p in (JS_SCAFFOLD_DIR / "functions").rglob("*")
)


def test_a_javascript_project_has_twilios_layout(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "web-app", "--language", "js")
    assert code == 0, out
    root = tmp_path / "web-app"
    assert _files(root) == JS_FILES
    layout = Layout.find(root)
    assert project_language(layout) == "js"
    routes = discover(layout)
    assert {path: route.visibility for path, route in routes.items()} == {
        "/hello-world": "public",
        "/private-message": "public",
        "/sms/reply": "protected",
        "/index.html": "public",
        "/message.js": "private",
        "/style.css": "public",
    }


def test_a_javascript_package_json_is_twilios_with_the_project_name(tmp_path: Path) -> None:
    root = init_project("web-app", tmp_path, language="js")
    data = json.loads((root / "package.json").read_text(encoding="utf-8"))
    assert data["name"] == "web-app"
    # As Twilio's init writes them: twilio and an exact @twilio/runtime-handler.
    assert data["dependencies"] == {"twilio": "5.0.3", "@twilio/runtime-handler": "2.0.3"}
    assert data["scripts"] == {"start": "callbox start", "deploy": "callbox deploy"}
    assert packagejson.dependencies(root) == [
        {"name": "twilio", "version": "5.0.3"},
        {"name": "@twilio/runtime-handler", "version": "2.0.3"},
    ]
    assert "web-app" in (root / "README.md").read_text(encoding="utf-8")


def test_a_javascript_project_gets_the_default_config_and_twilios_gitignore(
    tmp_path: Path,
) -> None:
    root = init_project("web-app", tmp_path, language="js")
    assert (root / ".twilioserverlessrc").read_text(encoding="utf-8") == default_rc_text()
    lines = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["# Twilio Serverless", ".twiliodeployinfo"]
    assert {"node_modules/", ".env"} <= set(lines)


def test_a_javascript_project_takes_credentials(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "creds", "--language", "js", "-a", "AC" + "1" * 32, "-t", "tok")
    assert code == 0, out
    values = dotenv_values(tmp_path / "creds" / ".env")
    assert values == {"ACCOUNT_SID": "AC" + "1" * 32, "AUTH_TOKEN": "tok"}


def test_a_js_template_id_makes_a_javascript_project(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "auth", "--template", "js/jwt-auth", "--empty")
    assert code == 0, out
    root = tmp_path / "auth"
    files = _files(root)
    assert {"functions/jwt-auth/login.js", "functions/jwt-auth/data.js"} <= files
    assert not any(f.endswith(".py") for f in files)
    assert not any(f.startswith("functions/hello-world") for f in files)
    # The template's package is added to the project's dependencies, Twilio's stay.
    data = json.loads((root / "package.json").read_text(encoding="utf-8"))
    assert data["dependencies"] == {
        "twilio": "5.0.3",
        "@twilio/runtime-handler": "2.0.3",
        "jsonwebtoken": "^9.0.2",
    }
    assert data["name"] == "auth"


def test_language_and_a_template_id_of_another_language_conflict(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "both", "--language", "python", "--template", "js/blank")
    assert code == 1 and "give one of them" in out
    assert not (tmp_path / "both").exists()


def test_language_js_with_a_bare_template_id_takes_its_javascript_version(
    tmp_path: Path,
) -> None:
    code, out = _init(tmp_path, "bot", "--language", "js", "--template", "hello-messaging")
    assert code == 0, out
    assert "functions/hello-messaging/hello-messaging.js" in _files(tmp_path / "bot")


def test_an_empty_javascript_project(tmp_path: Path) -> None:
    root = init_project("bare", tmp_path, language="js", empty=True)
    assert _files(root) == {f for f in JS_FILES if not f.startswith(("functions/", "assets/"))}
    assert (root / "functions").is_dir() and (root / "assets").is_dir()


def test_the_javascript_scaffold_config_is_the_generated_text() -> None:
    assert (JS_SCAFFOLD_DIR / ".twilioserverlessrc").read_text(encoding="utf-8") == (
        default_rc_text()
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.parametrize("relative", [f for f in JS_SCAFFOLD_FUNCTIONS if f.endswith(".js")])
def test_javascript_scaffold_functions_compile_and_export_a_handler(relative: str) -> None:
    file = JS_SCAFFOLD_DIR / relative
    script = (
        "const m = require(process.argv[1]);"
        "if (typeof m.handler !== 'function') { console.error('no handler'); process.exit(3); }"
    )
    # Loading the file defines exports.handler without calling it: no Twilio global needed.
    done = subprocess.run(
        ["node", "-e", script, str(file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


SIGNATURE = "import('@twilio-labs/serverless-runtime-types/types').ServerlessFunctionSignature"
BAD_FUNCTION = f"""/** @type {{{SIGNATURE}}} */
exports.handler = (context, event, callback) => {{
  const response = new Twilio.Response();
  response.setStatuscode(200);
  callback(null, response, 'extra');
}};
"""


def test_a_javascript_project_type_checks_with_twilios_types(
    tmp_path: Path, node_modules: Path
) -> None:
    # As Twilio's TypeScript guide: the runtime's types package, checked in the editor (here
    # with TypeScript's own checker) through jsconfig.json.
    code, out = _init(tmp_path, "typed", "--language", "js")
    assert code == 0, out
    root = tmp_path / "typed"
    assert (
        "@twilio-labs/serverless-runtime-types"
        in json.loads((root / "package.json").read_text())["devDependencies"]
    )
    (root / "node_modules").symlink_to(node_modules)
    tsc = [shutil.which("node") or "node", str(node_modules / "typescript" / "bin" / "tsc")]
    checked = subprocess.run(
        [*tsc, "-p", "jsconfig.json"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (root / "functions" / "bad.js").write_text(BAD_FUNCTION)
    mistakes = subprocess.run(
        [*tsc, "-p", "jsconfig.json"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert mistakes.returncode != 0
    assert "Property 'setStatuscode' does not exist" in mistakes.stdout
    assert "Expected 1-2 arguments, but got 3" in mistakes.stdout
