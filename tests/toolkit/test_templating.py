"""``callbox new`` and ``list-templates``: the shipped templates, where their files go, how .env
and requirements.txt are merged, and every way the input or the project can be wrong."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from dotenv import dotenv_values

from callbox.toolkit import templating
from callbox.toolkit.commands.templates import list_templates, new
from callbox.toolkit.templating import (
    TEMPLATES_DIR,
    Template,
    TemplateError,
    create_from_template,
    merge_requirements,
    normalize_namespace,
)

TEMPLATE_IDS = [
    entry["id"] for entry in json.loads((TEMPLATES_DIR / "templates.json").read_text())["templates"]
]
REQUIRED_IDS = {
    "hello-world",
    "blank",
    "hello-messaging",
    "hello-voice",
    "forward-message",
    "protected-webhook",
    "basic-auth",
    "jwt-auth",
    "cors",
}


def project(tmp_path: Path, *folders: str, env: str | None = None) -> Path:
    root = tmp_path / "project"
    for folder in folders:
        (root / folder).mkdir(parents=True)
    root.mkdir(exist_ok=True)
    if env is not None:
        (root / ".env").write_text(env)
    return root


def run_new(root: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(new, [*args, "--cwd", str(root)], input=input)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def folders(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- the shipped templates ------------------------------------------------------------------


def test_at_least_the_nine_required_templates_are_listed_once_each() -> None:
    assert set(TEMPLATE_IDS) >= REQUIRED_IDS
    assert len(TEMPLATE_IDS) == len(set(TEMPLATE_IDS))


def test_every_listed_template_has_a_folder_and_every_folder_is_listed() -> None:
    on_disk = {p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert on_disk == set(TEMPLATE_IDS)


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_template_folder_holds_a_readme_and_functions_with_a_handler(template_id: str) -> None:
    folder = TEMPLATES_DIR / template_id
    assert (folder / "README.md").read_text().startswith("# ")
    allowed = {"functions", "assets", ".env", "README.md", "requirements.txt", "__pycache__", "js"}
    assert {p.name for p in folder.iterdir()} <= allowed
    functions = [p for p in (folder / "functions").rglob("*.py") if "__pycache__" not in p.parts]
    assert functions
    for file in functions:
        tree_ = ast.parse(file.read_text())
        names = {
            n.name for n in tree_.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert "handler" in names, file


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_env_variable_has_a_description_line(template_id: str) -> None:
    env = TEMPLATES_DIR / template_id / ".env"
    if not env.is_file():
        return
    lines = env.read_text().splitlines()
    keys = list(dotenv_values(env))
    assert keys
    for key in keys:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
        block = []
        for line in reversed(lines[:index]):
            if not line.startswith("#"):
                break
            block.append(line)
        assert any(line.startswith("# description: ") for line in block), key


def test_list_templates_prints_name_id_and_description() -> None:
    result = CliRunner().invoke(list_templates, [])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "‣ Hello World (hello-world)"
    assert lines[1].startswith("  ") and "Hello World!" in lines[1]
    assert lines[1].endswith(" (Python, JavaScript)")
    assert len(lines) == 2 * len(TEMPLATE_IDS)
    assert [re.search(r"\((.+)\)$", line)[1] for line in lines[::2]] == TEMPLATE_IDS  # type: ignore[index]


def test_list_templates_json_is_the_array_of_templates_json_tab_indented() -> None:
    result = CliRunner().invoke(list_templates, ["-o", "json"])
    assert result.exit_code == 0
    listed = json.loads((TEMPLATES_DIR / "templates.json").read_text())["templates"]
    # Twilio's {id, name, description}, and the languages each template exists in.
    expected = [{**entry, "languages": ["python", "js"]} for entry in listed]
    assert json.loads(result.output) == expected
    # Indented with tabs, like every other command's -o json.
    assert result.output == json.dumps(expected, indent="\t") + "\n"
    assert result.output.splitlines()[1] == "\t{"


def test_list_templates_output_format_is_empty_or_json_like_the_other_commands() -> None:
    text = CliRunner().invoke(list_templates, [])
    assert text.exit_code == 0
    assert CliRunner().invoke(list_templates, ["-o", ""]).output == text.output
    assert CliRunner().invoke(list_templates, ["--output-format", ""]).output == text.output


@pytest.mark.parametrize("value", ["text", "yaml", "JSON", " json"])
def test_list_templates_refuses_any_other_output_format(value: str) -> None:
    result = CliRunner().invoke(list_templates, ["-o", value])
    assert result.exit_code == 2
    assert f"'{value}' is not one of '', 'json'" in result.output


# --- where files go -------------------------------------------------------------------------


def test_new_copies_functions_assets_and_readme_under_the_namespace(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "demo", "--template", "cors")
    assert result.exit_code == 0, result.output
    source = TEMPLATES_DIR / "cors"
    files = tree(root)
    assert files["functions/demo/api.py"] == (source / "functions/api.py").read_bytes()
    assert files["assets/demo/index.html"] == (source / "assets/index.html").read_bytes()
    assert files["readmes/demo/cors.md"] == (source / "README.md").read_bytes()
    assert files[".env"] == (source / ".env").read_bytes()
    assert set(files) == {
        "functions/demo/api.py",
        "assets/demo/index.html",
        "readmes/demo/cors.md",
        ".env",
    }
    assert result.output.splitlines() == [
        'SUCCESS Created new template in the "demo" subdirectories.',
        "  functions/demo/api.py",
        "  assets/demo/index.html",
        "Check readmes/demo/cors.md for template instructions.",
        "INFO Make sure to configure ALLOWED_ORIGIN in the .env file",
    ]


def test_template_without_variables_creates_no_env_and_says_nothing_about_it(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "hi", "--template", "hello-world")
    assert result.exit_code == 0, result.output
    assert set(tree(root)) == {"functions/hi/hello-world.py", "readmes/hi/hello-world.md"}
    assert "INFO" not in result.output


def test_trailing_py_is_stripped_from_the_namespace(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "greet.py", "--template", "hello-world")
    assert result.exit_code == 0, result.output
    assert (root / "functions/greet/hello-world.py").is_file()
    assert (root / "readmes/greet/hello-world.md").is_file()
    assert 'in the "greet" subdirectories' in result.output


def test_nested_namespace_makes_nested_folders(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "api/v1", "--template", "jwt-auth")
    assert result.exit_code == 0, result.output
    assert (root / "functions/api/v1/login.py").is_file()
    assert (root / "functions/api/v1/data.py").is_file()
    assert (root / "readmes/api/v1/jwt-auth.md").is_file()


def test_src_and_static_folders_are_used_when_functions_and_assets_are_absent(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, "src", "static")
    result = run_new(root, "web", "--template", "cors")
    assert result.exit_code == 0, result.output
    assert (root / "src/web/api.py").is_file()
    assert (root / "static/web/index.html").is_file()
    assert not (root / "functions").exists() and not (root / "assets").exists()


@pytest.mark.parametrize("inside", ["functions", "assets", "readmes"])
def test_running_inside_a_project_folder_works_on_its_parent(tmp_path: Path, inside: str) -> None:
    root = project(tmp_path, "functions", "assets", "readmes")
    result = run_new(root / inside, "hi", "--template", "hello-world")
    assert result.exit_code == 0, result.output
    assert (root / "functions/hi/hello-world.py").is_file()
    assert not (root / inside / "functions").exists()


def test_default_folder_is_the_current_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, "functions", "assets")
    monkeypatch.chdir(root / "functions")
    result = CliRunner().invoke(new, ["hi", "--template", "hello-world"])
    assert result.exit_code == 0, result.output
    assert (root / "functions/hi/hello-world.py").is_file()


# --- the project is not right ---------------------------------------------------------------


def test_folder_without_any_project_folder_is_an_invalid_structure(tmp_path: Path) -> None:
    root = project(tmp_path)
    line = one_error_line(run_new(root, "hi", "--template", "hello-world"))
    assert line.startswith("Error: Invalid Serverless Project Structure")
    assert "callbox init" in line
    assert tree(root) == {}


def test_missing_project_folder_is_reported_before_any_question(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = run_new(root, input="hello-world\nhi\n")
    assert "Invalid Serverless Project Structure" in result.output
    assert "Template" not in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("present", "message"),
    [
        ("functions", 'Could not find any of these directories "assets", "static"'),
        ("src", 'Could not find any of these directories "assets", "static"'),
        ("assets", 'Could not find any of these directories "functions", "src"'),
        ("static", 'Could not find any of these directories "functions", "src"'),
    ],
)
def test_both_a_functions_and_an_assets_folder_are_needed(
    tmp_path: Path, present: str, message: str
) -> None:
    root = project(tmp_path, present)
    line = one_error_line(run_new(root, "hi", "--template", "hello-world"))
    assert message in line
    assert tree(root) == {} and folders(root) == {present}


def test_a_duplicate_file_refuses_the_whole_template(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets", env="A=1\n")
    (root / "assets/demo").mkdir()
    (root / "assets/demo/index.html").write_text("mine")
    before = tree(root)
    line = one_error_line(run_new(root, "demo", "--template", "cors"))
    assert 'Template with name "demo" has duplicate file "index.html" in "assets/demo"' in line
    # Nothing was written: not the function listed before the asset, not .env, not the readme.
    assert tree(root) == before
    assert folders(root) == {"functions", "assets", "assets/demo"}


def test_an_existing_readme_is_a_duplicate_too(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "readmes/hi").mkdir(parents=True)
    (root / "readmes/hi/hello-world.md").write_text("notes")
    line = one_error_line(run_new(root, "hi", "--template", "hello-world"))
    assert 'duplicate file "hello-world.md" in "readmes/hi"' in line
    assert not (root / "functions/hi").exists()


def test_the_same_template_twice_in_one_namespace_fails_the_second_time(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    assert run_new(root, "auth", "--template", "basic-auth").exit_code == 0
    env = (root / ".env").read_text()
    line = one_error_line(run_new(root, "auth", "--template", "basic-auth"))
    assert 'duplicate file "basic-auth.py" in "functions/auth"' in line
    assert (root / ".env").read_text() == env
    # Another namespace is fine.
    assert run_new(root, "auth2", "--template", "basic-auth").exit_code == 0


def test_a_failed_write_takes_back_every_file_and_folder_it_made(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "assets/demo").write_text("a file where the template needs a folder")
    line = one_error_line(run_new(root, "demo", "--template", "cors"))
    assert "Could not write assets/demo/index.html" in line and "nothing was created" in line
    assert set(tree(root)) == {"assets/demo"}
    assert folders(root) == {"functions", "assets"}


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        ("my space", "contains whitespace"),
        ("tab\there", "contains whitespace"),
        ("../outside", 'without "." or ".."'),
        ("a/../../b", 'without "." or ".."'),
        ("./here", 'without "." or ".."'),
        ("a//b", 'without "." or ".."'),
        ("/etc/passwd", "is an absolute path"),
        ("\\windows", "is an absolute path"),
        (".hidden", 'invalid folder name ".hidden"'),
        ("a\\b", 'invalid folder name "a\\b"'),
        ("what?", 'invalid folder name "what?"'),
        ("semi;colon", 'invalid folder name "semi;colon"'),
        ("", "is empty"),
        (".py", "is empty"),
        ("/", "is empty"),
    ],
)
def test_bad_namespaces_are_one_clear_error_and_write_nothing(
    tmp_path: Path, namespace: str, message: str
) -> None:
    root = project(tmp_path, "functions", "assets")
    line = one_error_line(run_new(root, namespace, "--template", "hello-world"))
    assert message in line
    assert tree(root) == {}
    assert folders(root) == {"functions", "assets"}


def test_good_namespaces_normalize_as_expected() -> None:
    assert normalize_namespace("greet") == "greet"
    assert normalize_namespace("greet.py") == "greet"
    assert normalize_namespace("v1.2") == "v1.2"
    assert normalize_namespace("api/v1/") == "api/v1"
    assert normalize_namespace("under_score-dash") == "under_score-dash"
    with pytest.raises(TemplateError):
        normalize_namespace("a b")


def test_unknown_template_lists_the_valid_ids(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    line = one_error_line(run_new(root, "hi", "--template", "nope"))
    assert line.startswith('Error: Unknown template "nope"; valid templates are: ')
    for template_id in TEMPLATE_IDS:
        assert template_id in line
    assert tree(root) == {}


# --- prompts --------------------------------------------------------------------------------


def test_prompts_for_template_and_namespace_when_not_given(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, input="hello-voice\ncalls\n")
    assert result.exit_code == 0, result.output
    assert "hello-voice" in result.output.split("Template")[0]  # the choices were shown
    assert (root / "functions/calls/hello-voice.py").is_file()


def test_namespace_prompt_defaults_to_the_template_id(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "--template", "blank", input="\n")
    assert result.exit_code == 0, result.output
    assert (root / "functions/blank/blank.py").is_file()


def test_prompts_ask_again_after_a_bad_answer(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, input="nope\nhello-world\nbad name\n../up\ngood.py\n")
    assert result.exit_code == 0, result.output
    assert "'nope' is not one of" in result.output
    assert "contains whitespace" in result.output
    assert (root / "functions/good/hello-world.py").is_file()
    assert set(tree(root)) == {"functions/good/hello-world.py", "readmes/good/hello-world.md"}


def test_prompt_without_answers_aborts_without_writing(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, input="")
    assert result.exit_code == 1
    assert tree(root) == {}


# --- .env -----------------------------------------------------------------------------------


def test_env_is_appended_with_a_header_and_existing_keys_commented_out(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets", env="PASSWORD=kept\nOTHER=1")
    result = run_new(root, "auth", "--template", "jwt-auth")
    assert result.exit_code == 0, result.output
    text = (root / ".env").read_text()
    template_env = (TEMPLATES_DIR / "jwt-auth/.env").read_text()
    assert text == (
        "PASSWORD=kept\nOTHER=1\n"
        '\n# Variables for function "auth"\n# ---\n'
        + template_env.replace("\nPASSWORD=", "\n# PASSWORD=")
    )
    assert dotenv_values(root / ".env") == {"PASSWORD": "kept", "OTHER": "1", "JWT_SECRET": ""}
    assert result.output.splitlines()[-1] == (
        "INFO Make sure to configure JWT_SECRET in the .env file"
    )


def test_env_keys_that_are_only_commented_out_in_the_project_count_as_new(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets", env="# AUTH_TOKEN=\n")
    result = run_new(root, "hook", "--template", "protected-webhook")
    assert result.exit_code == 0, result.output
    assert dotenv_values(root / ".env") == {"AUTH_TOKEN": ""}
    assert "INFO Make sure to configure AUTH_TOKEN in the .env file" in result.output


def test_no_info_line_when_every_key_already_exists(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets", env="USERNAME=u\nPASSWORD=p\n")
    result = run_new(root, "auth", "--template", "basic-auth")
    assert result.exit_code == 0, result.output
    assert "INFO" not in result.output
    assert dotenv_values(root / ".env") == {"USERNAME": "u", "PASSWORD": "p"}
    assert "\n# USERNAME=\n" in (root / ".env").read_text()


def test_two_templates_in_a_row_share_the_project_env(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    assert run_new(root, "a", "--template", "basic-auth").exit_code == 0
    result = run_new(root, "b", "--template", "jwt-auth")
    assert "INFO Make sure to configure JWT_SECRET in the .env file" in result.output
    text = (root / ".env").read_text()
    assert text.startswith((TEMPLATES_DIR / "basic-auth/.env").read_text())
    assert text.count('# Variables for function "b"') == 1
    assert list(dotenv_values(root / ".env")) == ["USERNAME", "PASSWORD", "JWT_SECRET"]


# --- requirements.txt -----------------------------------------------------------------------


def fake_template(tmp_path: Path, requirements: str) -> Template:
    folder = tmp_path / "templates" / "needs-packages"
    (folder / "functions").mkdir(parents=True)
    (folder / "functions" / "f.py").write_text("def handler(context, event, callback):\n    pass\n")
    (folder / "requirements.txt").write_text(requirements)
    return Template(id="needs-packages", name="Needs packages", description="d", folder=folder)


def test_requirements_are_merged_skipping_packages_already_listed(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "requirements.txt").write_text("# mine\nRequests>=2.0\nruamel.yaml")
    template = fake_template(
        tmp_path,
        "# comment\nrequests==2.31\npyyaml>=6\n\nruamel_yaml\n-r other.txt\nhumanize  # x\n",
    )
    created = create_from_template(template, "pk", root)
    assert created.new_requirements == ["pyyaml>=6", "humanize  # x"]
    assert (root / "requirements.txt").read_text() == (
        "# mine\nRequests>=2.0\nruamel.yaml\n"
        '# Packages for function "pk"\npyyaml>=6\nhumanize  # x\n'
    )
    assert created.files == [Path("functions/pk/f.py")]
    assert created.readme is None


def test_requirements_file_is_created_when_missing_and_untouched_when_nothing_is_new(
    tmp_path: Path,
) -> None:
    target = tmp_path / "requirements.txt"
    assert merge_requirements("httpx>=0.27\nhttpx\n", target, "ns") == ["httpx>=0.27"]
    assert target.read_text() == '# Packages for function "ns"\nhttpx>=0.27\n'
    assert merge_requirements("HTTPX==1\n", target, "other") == []
    assert target.read_text() == '# Packages for function "ns"\nhttpx>=0.27\n'


def test_new_reports_added_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, "functions", "assets")
    template = fake_template(tmp_path, "humanize>=4\n")
    source = template.folder.parent
    (source / "templates.json").write_text(
        json.dumps({"templates": [{"id": template.id, "name": "n", "description": "d"}]})
    )
    monkeypatch.setattr("callbox.toolkit.templating.TEMPLATES_DIR", source)
    result = run_new(root, "pk", "--template", template.id)
    assert result.exit_code == 0, result.output
    assert "INFO Added humanize>=4 to requirements.txt" in result.output
    assert (root / "requirements.txt").read_text().endswith("humanize>=4\n")


@pytest.mark.parametrize("broken", [b"A=\xff\xfe\n", None])
def test_an_unreadable_project_env_refuses_the_template_before_writing(
    tmp_path: Path, broken: bytes | None
) -> None:
    root = project(tmp_path, "functions", "assets")
    if broken is None:
        (root / ".env").mkdir()  # a folder where the file should be
    else:
        (root / ".env").write_bytes(broken)
    line = one_error_line(run_new(root, "hook", "--template", "protected-webhook"))
    assert ("is not valid UTF-8" if broken else "Cannot read") in line
    assert not (root / "functions/hook").exists() and not (root / "readmes").exists()


# --- Twilio's shared flags and the config file (spec 7.2, case 65) --------------------------


def rc(root: Path, text: str, name: str = ".twilioserverlessrc") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def test_new_takes_the_shared_flags_once_each() -> None:
    options = [opt for param in new.params for opt in getattr(param, "opts", [])]
    assert len(options) == len(set(options)), options
    for flag in ("-l", "--log-level", "-c", "--config", "--cwd", "--env", "--template"):
        assert flag in options
    help_text = CliRunner().invoke(new, ["--help"]).output
    assert "-l, --log-level [debug|info|warn|error|none]" in help_text


@pytest.mark.parametrize(
    "config",
    [
        '{template: "hello-world"}',
        '{commands: {new: {template: "hello-world"}}}',
        '{template: "blank", commands: {new: {template: "hello-world"}}}',  # command wins
    ],
)
def test_a_config_template_fills_a_missing_flag(tmp_path: Path, config: str) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, config)
    result = run_new(root, "hi")
    assert result.exit_code == 0, result.output
    assert set(tree(root)) == {
        ".twilioserverlessrc",
        "functions/hi/hello-world.py",
        "readmes/hi/hello-world.md",
    }
    assert "Template" not in result.output  # nothing was asked


def test_the_template_flag_beats_the_config(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, '{commands: {new: {template: "hello-world"}}}')
    result = run_new(root, "hi", "--template", "blank")
    assert result.exit_code == 0, result.output
    assert (root / "functions/hi/blank.py").is_file()
    assert not (root / "functions/hi/hello-world.py").exists()


def test_config_of_another_command_is_not_read(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, '{commands: {init: {template: "hello-world"}}}')
    result = run_new(root, "hi", input="blank\n")
    assert result.exit_code == 0, result.output
    assert "Template" in result.output  # asked, since only init's scope names one
    assert (root / "functions/hi/blank.py").is_file()


def test_a_config_namespace_fills_a_missing_argument_and_the_argument_wins(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, '{commands: {new: {template: "hello-world", namespace: "from-config"}}}')
    result = run_new(root)
    assert result.exit_code == 0, result.output
    assert 'in the "from-config" subdirectories' in result.output
    assert (root / "functions/from-config/hello-world.py").is_file()
    result = run_new(root, "typed")
    assert result.exit_code == 0, result.output
    assert (root / "functions/typed/hello-world.py").is_file()


def test_a_config_cwd_is_the_project_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(tmp_path, '{cwd: "project", template: "hello-world"}')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the file is found walking up; its cwd is relative to it
    result = CliRunner().invoke(new, ["hi"])
    assert result.exit_code == 0, result.output
    assert (root / "functions/hi/hello-world.py").is_file()
    assert not (elsewhere / "functions").exists()


def test_config_flag_names_the_file_to_read(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    config = rc(tmp_path, "commands:\n  new:\n    template: cors\n", "settings.yml")
    result = run_new(root, "web", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert (root / "functions/web/api.py").is_file()


def test_a_missing_config_file_is_one_error_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    missing = tmp_path / "nope.json"
    line = one_error_line(run_new(root, "hi", "--template", "hello-world", "-c", str(missing)))
    assert f"Config file {missing} does not exist" in line
    assert tree(root) == {}


def test_a_broken_config_file_is_one_error_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    path = rc(root, "{template: ")
    line = one_error_line(run_new(root, "hi", "--template", "hello-world"))
    assert f"Config file {path} is not valid JSON5" in line
    assert set(tree(root)) == {".twilioserverlessrc"}


def test_an_unknown_template_from_the_config_names_the_file(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    path = rc(root, '{commands: {new: {template: "nope"}}}')
    line = one_error_line(run_new(root, "hi"))
    assert line.startswith('Error: Unknown template "nope"; valid templates are: ')
    assert line.endswith(f"The value comes from {path}.")
    assert set(tree(root)) == {".twilioserverlessrc"}
    # Typed on the command line, the file is not blamed.
    line = one_error_line(run_new(root, "hi", "--template", "nope2"))
    assert "nope2" in line and "comes from" not in line


def test_a_bad_namespace_from_the_config_names_the_file(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    path = rc(root, '{namespace: "../up", template: "hello-world"}')
    line = one_error_line(run_new(root))
    assert 'without "." or ".."' in line and line.endswith(f"The value comes from {path}.")
    assert set(tree(root)) == {".twilioserverlessrc"}


@pytest.mark.parametrize(
    ("config", "args"),
    [
        ('{template: ["hello-world"]}', ["hi"]),
        ("{namespace: {a: 1}}", ["--template", "blank"]),
        ('{logLevel: "loud"}', ["hi", "--template", "blank"]),
        ("{logLevel: 3}", ["hi", "--template", "blank"]),
    ],
)
def test_a_config_value_of_the_wrong_kind_is_one_error_naming_the_file(
    tmp_path: Path, config: str, args: list[str]
) -> None:
    root = project(tmp_path, "functions", "assets")
    path = rc(root, config)
    line = one_error_line(run_new(root, *args))
    assert f"Config file {path}" in line
    assert set(tree(root)) == {".twilioserverlessrc"}


def test_a_wrong_config_value_is_not_read_when_the_flag_is_typed(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, '{template: ["hello-world"], namespace: {a: 1}}')
    result = run_new(root, "hi", "--template", "blank")
    assert result.exit_code == 0, result.output
    assert (root / "functions/hi/blank.py").is_file()


def test_a_config_file_too_big_to_be_one_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    path = rc(root, "{" + " " * (300 * 1024) + "}")
    line = one_error_line(run_new(root, "hi", "--template", "hello-world"))
    assert f"Config file {path} is {300 * 1024 + 2:,} bytes, over the limit of 256 KB" in line
    assert set(tree(root)) == {".twilioserverlessrc"}


# --- log level and --env ---------------------------------------------------------------------


@pytest.mark.parametrize("level", ["warn", "error", "none"])
def test_a_log_level_above_info_prints_nothing_on_success(tmp_path: Path, level: str) -> None:
    # Twilio's toolkit logs SUCCESS, "Check ..." and INFO at level info.
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "auth", "--template", "jwt-auth", "-l", level)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert (root / "functions/auth/login.py").is_file()
    assert dotenv_values(root / ".env") == {"JWT_SECRET": "", "PASSWORD": ""}


@pytest.mark.parametrize("level", ["info", "debug"])
def test_info_and_debug_print_the_summary(tmp_path: Path, level: str) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "hi", "--template", "hello-world", "--log-level", level)
    assert result.exit_code == 0, result.output
    assert result.output.startswith('SUCCESS Created new template in the "hi" subdirectories.')


def test_a_quiet_log_level_still_prints_errors_and_questions(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    line = one_error_line(run_new(root, "hi", "--template", "nope", "-l", "none"))
    assert 'Unknown template "nope"' in line
    result = run_new(root, "-l", "none", input="hello-world\nhi\n")
    assert result.exit_code == 0, result.output
    assert "Template" in result.output and "Namespace" in result.output
    assert "SUCCESS" not in result.output


def test_the_config_log_level_quiets_and_a_typed_one_wins(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    rc(root, '{logLevel: "error"}')
    assert run_new(root, "a", "--template", "blank").output == ""
    result = run_new(root, "b", "--template", "blank", "-l", "info")
    assert result.output.startswith("SUCCESS")


def test_an_unknown_log_level_flag_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "hi", "--template", "blank", "-l", "loud")
    assert result.exit_code == 2
    assert "'loud' is not one of 'debug', 'info', 'warn', 'error', 'none'" in result.output
    assert tree(root) == {}


def test_env_flag_chooses_the_file_the_variables_go_to(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets", env="KEEP=1\n")
    (root / ".env.dev").write_text("USERNAME=u\n")
    result = run_new(root, "auth", "--template", "basic-auth", "--env", ".env.dev")
    assert result.exit_code == 0, result.output
    assert dotenv_values(root / ".env.dev") == {"USERNAME": "u", "PASSWORD": ""}
    assert (root / ".env").read_text() == "KEEP=1\n"
    assert result.output.splitlines()[-1] == (
        "INFO Make sure to configure PASSWORD in the .env.dev file"
    )


def test_env_from_the_config_is_used_too(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "stage.env").write_text("")
    rc(root, '{env: "stage.env"}')
    result = run_new(root, "hook", "--template", "protected-webhook")
    assert result.exit_code == 0, result.output
    assert dotenv_values(root / "stage.env") == {"AUTH_TOKEN": ""}
    assert not (root / ".env").exists()


@pytest.mark.parametrize("env", ["missing.env", "functions"])
def test_an_env_flag_that_is_not_a_file_writes_nothing(tmp_path: Path, env: str) -> None:
    root = project(tmp_path, "functions", "assets")
    line = one_error_line(run_new(root, "hook", "--template", "protected-webhook", "--env", env))
    assert f'Failed to find .env file at "{(root / env).resolve()}"' in line
    assert tree(root) == {} and folders(root) == {"functions", "assets"}


def test_an_env_file_outside_the_project_is_shown_by_its_full_path(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    outside = tmp_path / "shared.env"
    outside.write_text("")
    result = run_new(root, "c", "--template", "cors", "--env", str(outside))
    assert result.exit_code == 0, result.output
    assert f"in the {outside.resolve()} file" in result.output
    assert list(dotenv_values(outside)) == ["ALLOWED_ORIGIN"]
    assert not (root / ".env").exists()


# --- JavaScript versions ----------------------------------------------------------------------


def js_project(tmp_path: Path, package: dict[str, object] | None = None) -> Path:
    root = project(tmp_path, "functions", "assets")
    data = package if package is not None else {"name": "web", "dependencies": {"twilio": "5"}}
    (root / "package.json").write_text(json.dumps(data, indent=2) + "\n")
    return root


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_has_a_javascript_version_exporting_handlers(template_id: str) -> None:
    folder = TEMPLATES_DIR / template_id / "js"
    assert (folder / "README.md").read_text().startswith("# ")
    allowed = {"functions", "assets", ".env", "README.md", "package.json"}
    assert {p.name for p in folder.iterdir()} <= allowed
    functions = sorted((folder / "functions").rglob("*.js"))
    assert [p.stem for p in functions] == [
        p.stem for p in sorted((TEMPLATES_DIR / template_id / "functions").rglob("*.py"))
    ]
    for file in functions:
        assert re.search(r"^exports\.handler = (async )?function", file.read_text(), re.M), file
    python_env, js_env = TEMPLATES_DIR / template_id / ".env", folder / ".env"
    if python_env.is_file():  # the same variables, described the same way
        assert list(dotenv_values(js_env)) == list(dotenv_values(python_env))


def test_new_in_a_javascript_project_copies_the_javascript_version(tmp_path: Path) -> None:
    root = js_project(tmp_path)
    result = run_new(root, "demo", "--template", "cors")
    assert result.exit_code == 0, result.output
    source = TEMPLATES_DIR / "cors" / "js"
    files = tree(root)
    assert files["functions/demo/api.js"] == (source / "functions/api.js").read_bytes()
    assert files["assets/demo/index.html"] == (source / "assets/index.html").read_bytes()
    assert files["readmes/demo/cors.md"] == (source / "README.md").read_bytes()
    assert not any(name.endswith(".py") for name in files)


def test_new_takes_the_language_of_the_functions_present(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "functions" / "existing.js").write_text("exports.handler = () => {};\n")
    assert run_new(root, "hi", "--template", "hello-world").exit_code == 0
    assert (root / "functions/hi/hello-world.js").is_file()


def test_a_js_template_adds_its_packages_to_package_json(tmp_path: Path) -> None:
    root = js_project(tmp_path)
    result = run_new(root, "auth", "--template", "jwt-auth")
    assert result.exit_code == 0, result.output
    data = json.loads((root / "package.json").read_text())
    assert data == {"name": "web", "dependencies": {"twilio": "5", "jsonwebtoken": "^9.0.2"}}
    assert "INFO Added jsonwebtoken@^9.0.2 to package.json" in result.output.splitlines()
    # Added again under another namespace: the project's version stays, nothing is repeated.
    data["dependencies"]["jsonwebtoken"] = "9.0.0"
    (root / "package.json").write_text(json.dumps(data))
    result = run_new(root, "auth2", "--template", "jwt-auth")
    assert result.exit_code == 0, result.output
    assert json.loads((root / "package.json").read_text())["dependencies"]["jsonwebtoken"] == (
        "9.0.0"
    )
    assert "to package.json" not in result.output


def test_a_js_template_in_a_folder_without_package_json_creates_one(tmp_path: Path) -> None:
    root = project(tmp_path, "functions", "assets")
    result = run_new(root, "auth", "--template", "js/jwt-auth")
    assert result.exit_code == 0, result.output
    data = json.loads((root / "package.json").read_text())
    assert data == {"private": True, "dependencies": {"jsonwebtoken": "^9.0.2"}}


def test_a_broken_package_json_stops_a_js_template_before_any_file(tmp_path: Path) -> None:
    root = js_project(tmp_path)
    (root / "package.json").write_text("{ not json")
    before = tree(root)
    line = one_error_line(run_new(root, "auth", "--template", "jwt-auth"))
    assert "is not valid JSON" in line and "nothing was created" in line
    assert tree(root) == before


@pytest.mark.parametrize(
    ("existing", "args", "refused"),
    [
        ("a.py", ["--language", "js"], "functions are Python"),
        ("a.py", ["--template", "js/hello-world"], "functions are Python"),
        ("a.js", ["--language", "python"], "functions are JavaScript"),
    ],
)
def test_a_template_of_the_other_language_is_refused(
    tmp_path: Path, existing: str, args: list[str], refused: str
) -> None:
    root = project(tmp_path, "functions", "assets")
    (root / "functions" / existing).write_text("")
    before = tree(root)
    if "--template" not in args:
        args = [*args, "--template", "hello-world"]
    line = one_error_line(run_new(root, "hi", *args))
    assert refused in line and "a build runs one runtime" in line
    assert tree(root) == before


def test_an_explicit_language_wins_over_package_json_in_an_empty_project(tmp_path: Path) -> None:
    root = js_project(tmp_path)  # no functions yet: nothing would be mixed
    assert run_new(root, "hi", "--template", "python/hello-world").exit_code == 0
    assert (root / "functions/hi/hello-world.py").is_file()


def test_a_template_missing_in_one_language_says_which_it_has(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "py-only" / "functions").mkdir(parents=True)
    entry = {"id": "py-only", "name": "Py", "description": "d"}
    (source / "templates.json").write_text(json.dumps({"templates": [entry]}))
    assert [t.language for t in templating.list_templates(source)] == ["python"]
    assert templating.list_templates(source, "js") == []
    with pytest.raises(
        TemplateError, match='"py-only" has no JavaScript version \\(it has Python\\)'
    ):
        templating.get_template("js/py-only", source)
    with pytest.raises(TemplateError, match='Unknown template "js/nope"; valid templates are: py'):
        templating.get_template("js/nope", source)


@pytest.mark.parametrize(
    ("given", "split"),
    [
        ("js/hello-world", ("js", "hello-world")),
        ("python/blank", ("python", "blank")),
        ("blank", (None, "blank")),
        ("ruby/blank", (None, "ruby/blank")),
    ],
)
def test_split_id(given: str, split: tuple[str | None, str]) -> None:
    assert templating.split_id(given) == split
