"""Reading a project folder: routes and visibility, path rules, folders, .env, fingerprints."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from callbox.routes import Route
from callbox.toolkit.project import (
    Layout,
    ProjectError,
    discover,
    fingerprint,
    not_functions,
    project_language,
    read_env,
    route_for_file,
    validate_path,
)

SAMPLE = Path(__file__).resolve().parents[1] / "functions" / "unit_gateway"


def write(root: Path, relative: str, text: str = "") -> Path:
    file = root / relative
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


# --- route_for_file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "kind", "path", "visibility"),
    [
        ("hello.py", "function", "/hello", "public"),
        ("hello/example.protected.py", "function", "/hello/example", "protected"),
        ("sms/reply.protected.py", "function", "/sms/reply", "protected"),
        ("lib/helpers.private.py", "function", "/lib/helpers", "private"),
        ("hello-world.py", "function", "/hello-world", "public"),
        ("index.html", "asset", "/index.html", "public"),
        ("assets/index.html", "asset", "/assets/index.html", "public"),
        ("a/logo.private.png", "asset", "/a/logo.png", "private"),
        ("data.private.json", "asset", "/data.json", "private"),
        ("docs/secret.protected.txt", "asset", "/docs/secret.txt", "protected"),
        ("README", "asset", "/README", "public"),
        ("notes.private", "asset", "/notes", "private"),
        ("archive.tar.gz", "asset", "/archive.tar.gz", "public"),
        ("script.py", "asset", "/script.py", "public"),  # an asset keeps .py
        ("my function.py", "function", "/my-function", "public"),
        ("my folder/a b\tc.txt", "asset", "/my-folder/a-b-c.txt", "public"),
        ("protected.py", "function", "/protected", "public"),  # the marker needs a dot before
        ("a.protected.private.py", "function", "/a.protected", "private"),
        ("hello.js", "function", "/hello", "public"),
        ("sms/reply.protected.js", "function", "/sms/reply", "protected"),
        ("lib/helpers.private.js", "function", "/lib/helpers", "private"),
        ("hello/example#1.js", "function", "/hello/example#1", "public"),
        ("app.js", "asset", "/app.js", "public"),  # an asset keeps .js
        ("message.private.js", "asset", "/message.js", "private"),
    ],
)
def test_route_for_file(relative: str, kind: str, path: str, visibility: str) -> None:
    assert route_for_file(PurePosixPath(relative), kind) == (path, visibility)  # type: ignore[arg-type]


# --- validate_path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/index.html",
        "/styles.css",
        "/sms",
        "/webhooks/voice",
        "/tokens/chat-access",
        "/a_b/c~d.e!f*g=h",
        "/" + "a" * 254,
    ],
)
def test_valid_paths(path: str) -> None:
    validate_path(path)


BAD_CHARS = "Path cannot contain any of the following characters: ;,?:@+&$()' \". Got: "


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/?", BAD_CHARS + '"/?"'),
        ("/index:sample.html", BAD_CHARS + '"/index:sample.html"'),
        ("/styles(1).css", BAD_CHARS + '"/styles(1).css"'),
        ("/$money", BAD_CHARS + '"/$money"'),
        ("/webhooks/@voice", BAD_CHARS + '"/webhooks/@voice"'),
        ("/a;b", BAD_CHARS + '"/a;b"'),
        ("/a,b", BAD_CHARS + '"/a,b"'),
        ("/a+b", BAD_CHARS + '"/a+b"'),
        ("/a&b", BAD_CHARS + '"/a&b"'),
        ("/it's", BAD_CHARS + '"/it\'s"'),
        ('/say"hi"', BAD_CHARS + '"/say"hi""'),
        ("/a b", BAD_CHARS + '"/a b"'),
        ("/index.html#hash", 'Path cannot contain a #. Got: "/index.html#hash"'),
        ("relative-path", 'Expected path to start with "/". Got: "relative-path"'),
        ("", 'Expected path to start with "/". Got: ""'),
        ("/" + "a" * 256, "Path length must be shorter than 256 characters. Got: 257 characters."),
        ("/" + "a" * 255, "Path length must be shorter than 256 characters. Got: 256 characters."),
    ],
)
def test_invalid_paths(path: str, message: str) -> None:
    with pytest.raises(ProjectError) as caught:
        validate_path(path)
    assert str(caught.value) == message


def test_project_error_is_a_value_error() -> None:
    assert issubclass(ProjectError, ValueError)


# --- Layout and discover ----------------------------------------------------------------


def test_discover_the_sample_project() -> None:
    routes = discover(Layout.find(SAMPLE))
    functions = SAMPLE / "functions"
    assets = SAMPLE / "assets"
    assert routes["/hello"] == Route("/hello", "function", "public", functions / "hello.py")
    assert routes["/secret"] == Route(
        "/secret", "function", "protected", functions / "secret.protected.py"
    )
    assert routes["/lib/helper"].visibility == "private"
    assert routes["/data.json"] == Route(
        "/data.json", "asset", "private", assets / "data.private.json"
    )
    assert routes["/notes.txt"].visibility == "protected"
    assert routes["/assets/index.html"].kind == "asset"
    assert routes["/logo.png"].file == assets / "logo.png"
    assert "/" not in routes


def test_functions_and_assets_folders_are_preferred(tmp_path: Path) -> None:
    for folder in ("functions", "src", "assets", "static"):
        (tmp_path / folder).mkdir()
    layout = Layout.find(tmp_path)
    assert layout == Layout(tmp_path, tmp_path / "functions", tmp_path / "assets")


def test_src_and_static_are_the_fallbacks(tmp_path: Path) -> None:
    write(tmp_path, "src/hello.py")
    write(tmp_path, "static/page.html")
    layout = Layout.find(tmp_path)
    assert (layout.functions, layout.assets) == (tmp_path / "src", tmp_path / "static")
    routes = discover(layout)
    assert sorted(routes) == ["/hello", "/page.html"]


def test_no_folders_at_all_is_an_empty_project(tmp_path: Path) -> None:
    layout = Layout.find(tmp_path)
    assert (layout.functions, layout.assets) == (None, None)
    assert discover(layout) == {}


def test_a_file_named_functions_is_not_a_folder(tmp_path: Path) -> None:
    write(tmp_path, "functions")
    write(tmp_path, "src/a.py")
    assert Layout.find(tmp_path).functions == tmp_path / "src"


def test_explicit_folders(tmp_path: Path) -> None:
    write(tmp_path, "api/hello.py")
    write(tmp_path, "public/site.css")
    layout = Layout.find(tmp_path, functions_folder="api", assets_folder="public")
    assert (layout.functions, layout.assets) == (tmp_path / "api", tmp_path / "public")


def test_explicit_missing_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    with pytest.raises(ProjectError) as caught:
        Layout.find(tmp_path, functions_folder="missing")
    assert str(caught.value) == f"The folder {tmp_path / 'missing'} does not exist."
    with pytest.raises(ProjectError, match="does not exist"):
        Layout.find(tmp_path, assets_folder="nope")


@pytest.mark.parametrize(
    ("option", "flag"),
    [("functions_folder", "--functions-folder"), ("assets_folder", "--assets-folder")],
)
def test_explicit_folder_that_is_a_file_says_so(tmp_path: Path, option: str, flag: str) -> None:
    readme = write(tmp_path, "README.md", "# app")
    with pytest.raises(ProjectError) as caught:
        Layout.find(tmp_path, **{option: "README.md"})
    assert str(caught.value) == (
        f"{readme.resolve()} is not a folder; give {flag} the path of a folder."
    )


def test_explicit_folder_through_a_symlink(tmp_path: Path) -> None:
    write(tmp_path, "real/hello.py")
    write(tmp_path, "notes.txt")
    (tmp_path / "api").symlink_to(tmp_path / "real")
    (tmp_path / "file-link").symlink_to(tmp_path / "notes.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert Layout.find(tmp_path, functions_folder="api").functions == (tmp_path / "real").resolve()
    with pytest.raises(ProjectError, match=r"notes\.txt is not a folder; give --functions-folder"):
        Layout.find(tmp_path, functions_folder="file-link")
    with pytest.raises(ProjectError) as caught:
        Layout.find(tmp_path, functions_folder="dangling")
    assert str(caught.value) == f"The folder {(tmp_path / 'gone').resolve()} does not exist."
    with pytest.raises(ProjectError) as caught:
        Layout.find(tmp_path, assets_folder="loop")
    message = str(caught.value)
    assert message.startswith(f"The folder {tmp_path / 'loop'} cannot be read (")
    assert message.endswith("); check --assets-folder.")


def test_explicit_folder_below_a_file_does_not_exist(tmp_path: Path) -> None:
    write(tmp_path, "README.md")
    with pytest.raises(ProjectError, match=r"README\.md/functions does not exist\.$"):
        Layout.find(tmp_path, functions_folder="README.md/functions")


def test_explicit_folder_with_a_name_too_long_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"cannot be read \(File name too long\)"):
        Layout.find(tmp_path, functions_folder="x" * 300)


def test_root_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        Layout.find(tmp_path / "missing")
    assert str(caught.value) == (
        f"{tmp_path / 'missing'} is not a folder; give the path of a callbox project."
    )


def test_discover_skips_what_is_not_a_function_or_is_hidden(tmp_path: Path) -> None:
    write(tmp_path, "functions/ok.py")
    write(tmp_path, "functions/__init__.py")
    write(tmp_path, "functions/notes.txt")
    write(tmp_path, "functions/.hidden.py")
    write(tmp_path, "functions/.git/config.py")
    write(tmp_path, "functions/__pycache__/ok.cpython-311.py")
    write(tmp_path, "assets/.DS_Store")
    write(tmp_path, "assets/__pycache__/x.css")
    write(tmp_path, "assets/site.css")
    routes = discover(Layout.find(tmp_path))
    assert sorted(routes) == ["/ok", "/site.css"]


def test_duplicate_paths_are_an_error(tmp_path: Path) -> None:
    first = write(tmp_path, "functions/same.py")
    second = write(tmp_path, "functions/same.protected.py")
    with pytest.raises(ProjectError) as caught:
        discover(Layout.find(tmp_path))
    message = str(caught.value)
    assert message.startswith("Duplicate. Path /same already exists (")
    assert str(first) in message and str(second) in message


def test_a_function_and_an_asset_with_the_same_path_are_duplicates(tmp_path: Path) -> None:
    write(tmp_path, "functions/thing.py")
    write(tmp_path, "assets/thing")
    with pytest.raises(ProjectError, match="Duplicate. Path /thing already exists"):
        discover(Layout.find(tmp_path))


def test_whitespace_collisions_are_duplicates(tmp_path: Path) -> None:
    write(tmp_path, "functions/a b.py")
    write(tmp_path, "functions/a-b.py")
    with pytest.raises(ProjectError, match="Duplicate. Path /a-b already exists"):
        discover(Layout.find(tmp_path))


def test_a_file_with_an_invalid_path_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "functions/pay$.py")
    with pytest.raises(ProjectError, match='Got: "/pay\\$"'):
        discover(Layout.find(tmp_path))


# --- JavaScript projects and languages ------------------------------------------------------


def test_discover_a_javascript_project(tmp_path: Path) -> None:
    # Twilio's init layout (spec 7.3): functions drop .js, assets keep it.
    reply = write(tmp_path, "functions/sms/reply.protected.js", "exports.handler = () => {};")
    write(tmp_path, "functions/hello-world.js")
    write(tmp_path, "functions/private-message.js")
    write(tmp_path, "assets/message.private.js")
    write(tmp_path, "assets/index.html")
    write(tmp_path, "package.json", '{"name": "x"}')
    layout = Layout.find(tmp_path)
    routes = discover(layout)
    assert sorted(routes) == [
        "/hello-world",
        "/index.html",
        "/message.js",
        "/private-message",
        "/sms/reply",
    ]
    assert routes["/sms/reply"] == Route("/sms/reply", "function", "protected", reply)
    assert routes["/message.js"].kind == "asset" and routes["/message.js"].visibility == "private"
    assert project_language(layout) == "js"


def test_python_and_javascript_functions_are_refused_naming_them(tmp_path: Path) -> None:
    write(tmp_path, "functions/a.py")
    write(tmp_path, "functions/lib/b.private.py")
    write(tmp_path, "functions/c.js")
    with pytest.raises(ProjectError) as caught:
        discover(Layout.find(tmp_path))
    message = str(caught.value)
    assert "one runtime" in message
    assert "JavaScript: functions/c.js; Python: functions/a.py, functions/lib/b.private.py" in (
        message
    )


def test_a_long_mixed_list_is_shortened(tmp_path: Path) -> None:
    for number in range(8):
        write(tmp_path, f"functions/f{number}.py")
    write(tmp_path, "functions/one.js")
    with pytest.raises(ProjectError, match=r"functions/f4\.py and 3 more\. Move one kind"):
        discover(Layout.find(tmp_path))


def test_javascript_assets_do_not_make_a_python_project_mixed(tmp_path: Path) -> None:
    write(tmp_path, "functions/a.py")
    write(tmp_path, "assets/app.js")
    layout = Layout.find(tmp_path)
    assert sorted(discover(layout)) == ["/a", "/app.js"]
    assert project_language(layout) == "python"


@pytest.mark.parametrize(
    ("files", "language"),
    [
        (["functions/a.py", "package.json"], "python"),  # the functions decide
        (["functions/a.js", "requirements.txt"], "js"),
        (["assets/a.css", "package.json"], "js"),
        (["assets/a.css", "requirements.txt"], "python"),
        (["assets/a.css", "pyproject.toml"], "python"),
        (["assets/a.css", "package.json", "requirements.txt"], "js"),
        (["assets/a.css"], None),
        ([], None),
    ],
)
def test_project_language(tmp_path: Path, files: list[str], language: str | None) -> None:
    for file in files:
        write(tmp_path, file)
    assert project_language(Layout.find(tmp_path)) == language


def test_files_that_are_not_functions_are_listed(tmp_path: Path) -> None:
    # Twilio's toolkit takes exactly .js: .mjs, .cjs and .ts are not functions (spec 4.1).
    write(tmp_path, "functions/ok.js")
    kept = [write(tmp_path, f"functions/{name}") for name in ("a.ts", "b.mjs", "c.cjs", "d.json")]
    write(tmp_path, "functions/.eslintrc.json")
    write(tmp_path, "functions/__init__.py")
    write(tmp_path, "functions/__pycache__/x.cpython-311.pyc")
    layout = Layout.find(tmp_path)
    assert sorted(discover(layout)) == ["/ok"]
    assert sorted(not_functions(layout)) == sorted(kept)
    assert not_functions(Layout(tmp_path, None, None)) == []


# --- .env -------------------------------------------------------------------------------


def test_missing_env_file_is_empty(tmp_path: Path) -> None:
    assert read_env(tmp_path / ".env") == {}
    assert read_env(tmp_path) == {}  # a folder is not a file


def test_env_file_values(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        ".env",
        "# a comment\n"
        "GREETING=hello world\n"
        'QUOTED="with # hash"\n'
        "EMPTY=\n"
        "NO_VALUE\n"
        "export EXPORTED=yes\n"
        "SPACED = padded \n",
    )
    assert read_env(env) == {
        "GREETING": "hello world",
        "QUOTED": "with # hash",
        "EMPTY": "",
        "NO_VALUE": "",
        "EXPORTED": "yes",
        "SPACED": "padded",
    }


# --- fingerprint ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Layout:
    write(tmp_path, "functions/hello.py", "def handler(c, e, cb):\n    return 1\n")
    write(tmp_path, "functions/sub/deep.py", "x = 1\n")
    write(tmp_path, "assets/site.css", "body {}\n")
    write(tmp_path, ".env", "A=1\n")
    return Layout.find(tmp_path)


def extra(layout: Layout) -> list[Path]:
    return [layout.root / ".env", layout.root / "requirements.txt"]


def test_fingerprint_is_stable_without_changes(project: Layout) -> None:
    assert fingerprint(project, extra(project)) == fingerprint(project, extra(project))


def test_fingerprint_changes_on_edit(project: Layout) -> None:
    before = fingerprint(project, extra(project))
    file = project.root / "functions" / "hello.py"
    stat = file.stat()
    file.write_text("def handler(c, e, cb):\n    return 2\n")  # same size
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert fingerprint(project, extra(project)) != before


def test_fingerprint_changes_on_add(project: Layout) -> None:
    before = fingerprint(project, extra(project))
    write(project.root, "functions/sub/new.py")
    assert fingerprint(project, extra(project)) != before


def test_fingerprint_changes_on_delete(project: Layout) -> None:
    before = fingerprint(project, extra(project))
    (project.root / "assets" / "site.css").unlink()
    assert fingerprint(project, extra(project)) != before


def test_fingerprint_follows_extra_files(project: Layout) -> None:
    before = fingerprint(project, extra(project))
    write(project.root, "requirements.txt", "tinyunit\n")  # did not exist before
    after_add = fingerprint(project, extra(project))
    assert after_add != before
    write(project.root, ".env", "A=1\nB=22\n")
    assert fingerprint(project, extra(project)) != after_add


def test_fingerprint_ignores_pycache(project: Layout) -> None:
    before = fingerprint(project, extra(project))
    write(project.root, "functions/__pycache__/hello.cpython-311.pyc", "compiled")
    assert fingerprint(project, extra(project)) == before


def test_linked_folders_are_followed_once(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "deep").mkdir(parents=True)
    (shared / "deep" / "tool.py").write_text("def handler(c, e, cb):\n    cb(None, 'x')\n")
    (shared / "loop").symlink_to(shared)  # a link back up must not walk forever
    root = tmp_path / "project"
    (root / "functions").mkdir(parents=True)
    (root / "functions" / "linked").symlink_to(shared)
    (root / "assets").mkdir()
    (root / "assets" / "media").symlink_to(shared / "deep")
    routes = discover(Layout.find(root))
    assert "/linked/deep/tool" in routes and "/media/tool.py" in routes
    assert not any("/loop/loop" in path for path in routes)
