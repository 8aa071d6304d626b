"""What a build is checked for before it is installed: paths, Python sources, dependencies."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import PurePosixPath

import pytest

from callbox.builds.validate import (
    MAX_SEGMENT_BYTES,
    BuildFailure,
    canonical_name,
    check_function,
    check_layout,
    function_file,
    is_twilio,
    parse_dependencies,
    requirement_line,
    twilio_version,
)

# --- paths ------------------------------------------------------------------------------


def test_a_path_segment_too_long_for_a_file_name_fails_readably() -> None:
    fits = "é" * (MAX_SEGMENT_BYTES // 2)  # two bytes each in UTF-8
    assert function_file("function", f"/{fits}") == PurePosixPath(f"functions/{fits}.py")
    with pytest.raises(BuildFailure, match=f"segment of 202 bytes; .* at most {MAX_SEGMENT_BYTES}"):
        function_file("function", f"/dir/{fits}é")
    with pytest.raises(BuildFailure, match="at most 200 bytes"):
        function_file("asset", "/" + "a" * 201)


def test_paths_map_to_files_in_the_build_folder() -> None:
    assert function_file("function", "/hello") == PurePosixPath("functions/hello.py")
    assert function_file("function", "/lib/util") == PurePosixPath("functions/lib/util.py")
    assert function_file("asset", "/index.html") == PurePosixPath("assets/index.html")
    assert function_file("asset", "/img/a.b.png") == PurePosixPath("assets/img/a.b.png")


@pytest.mark.parametrize(
    "path", ["/../escape", "/a/../../b", "/./a", "//a", "/a/", "/", "relative", "/a\x00b", ""]
)
def test_paths_that_could_escape_or_are_malformed_fail(path: str) -> None:
    with pytest.raises(BuildFailure, match=r"^Asset path"):
        function_file("asset", path)


def test_two_versions_with_one_path_fail() -> None:
    with pytest.raises(BuildFailure, match="two functions with the path /hello"):
        check_layout("function", ["/hello", "/other", "/hello"])


def test_an_asset_inside_another_assets_file_fails() -> None:
    with pytest.raises(
        BuildFailure, match="Asset /a/b would be written inside the file of asset /a"
    ):
        check_layout("asset", ["/a", "/a/b"])
    check_layout("function", ["/a", "/a/b"])  # a.py and a/b.py live side by side


# --- function sources -------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "def handler(context, event, callback):\n    return callback(None, 'ok')\n",
        "async def handler(context, event, callback):\n    return 'ok'\n",
        "def _impl(c, e, cb):\n    pass\n\nhandler = _impl\n",
        "from lib.util import handler\n",
        "import lib.util as handler\n",
        "first, (handler, *rest) = 1, (2, 3)\n",
        "class handler:\n    pass\n",
        "try:\n    from fast import handler\nexcept ImportError:\n    def handler(c, e, cb):\n"
        "        pass\n",
        "if True:\n    handler: object = print\n",
        "from lib.util import *\n",  # cannot be known without importing: left to the worker
    ],
)
def test_sources_that_bind_handler_pass(source: str) -> None:
    check_function("/hello", "public", source.encode())


def test_a_missing_handler_lists_the_names_found() -> None:
    source = b"import os\nfrom x import y\n_hidden = 1\ndef foo(): pass\nbar = 2\nclass Baz: pass\n"
    with pytest.raises(BuildFailure) as caught:
        check_function("/hello", "protected", source)
    assert str(caught.value).startswith("Function /hello has no `handler`; found: Baz, bar, foo.")


def test_a_handler_only_inside_a_function_does_not_count() -> None:
    with pytest.raises(BuildFailure, match="found: setup"):
        check_function("/hello", "public", b"def setup():\n    def handler():\n        pass\n")


def test_an_empty_function_found_nothing() -> None:
    with pytest.raises(BuildFailure, match="found: nothing"):
        check_function("/hello", "public", b"")


def test_a_private_helper_needs_no_handler() -> None:
    check_function("/lib/util", "private", b"def helper():\n    return 1\n")


def test_a_syntax_error_names_the_function_and_line() -> None:
    source = b"def handler(context, event, callback):\n    x = 1\n    return (\n"
    with pytest.raises(BuildFailure) as caught:
        check_function("/hello", "public", source)
    assert str(caught.value).startswith("Function /hello does not compile: line 3: ")


def test_errors_found_by_the_compiler_after_parsing_count() -> None:
    with pytest.raises(BuildFailure, match=r"does not compile: line 1: 'return' outside function"):
        check_function("/hello", "private", b"return 1\n")


def test_a_private_helper_must_still_compile() -> None:
    with pytest.raises(BuildFailure, match="Function /lib/util does not compile"):
        check_function("/lib/util", "private", b"def (:\n")


def test_non_utf8_source_fails() -> None:
    with pytest.raises(BuildFailure, match=r"Function /hello is not UTF-8 text \(byte 0xff"):
        check_function("/hello", "public", b"# caf\xff\ndef handler(c, e, cb): pass\n")


def test_null_bytes_fail_readably() -> None:
    with pytest.raises(BuildFailure, match="Function /hello does not compile"):
        check_function("/hello", "public", b"def handler(c, e, cb): pass\n\x00\n")


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    check_function("/hello", "public", "\ufeffdef handler(c, e, cb): pass\n".encode())


# --- dependencies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "line"),
    [
        ("", "foo"),
        ("*", "foo"),
        ("latest", "foo"),
        ("1.2.0", "foo==1.2.0"),
        ("==1.2", "foo==1.2"),
        (">=1.2, <2", "foo<2,>=1.2"),  # packaging's canonical order: one set, one hash
        ("~=1.4", "foo~=1.4"),
        ("!=1.3", "foo!=1.3"),
        ("<2", "foo<2"),
        (">1", "foo>1"),
    ],
)
def test_versions_become_requirement_lines(version: str, line: str) -> None:
    assert requirement_line("foo", version) == line


def test_dependencies_are_normalised_sorted_and_unique() -> None:
    text = (
        '[{"name": "Zeta_Pkg", "version": "1.0"}, {"name": "alpha", "version": "*"},'
        ' {"name": "zeta-pkg", "version": "1.0"}, {"name": " Extra[B, a] ", "version": ""}]'
    )
    deps = parse_dependencies(text)
    assert deps.install == ["alpha", "extra[a,b]", "zeta-pkg==1.0"]
    assert deps.provided == []
    # The entries as sent (stripped), in order: what the API stores and echoes.
    assert deps.entries == [
        {"name": "Zeta_Pkg", "version": "1.0"},
        {"name": "alpha", "version": "*"},
        {"name": "zeta-pkg", "version": "1.0"},
        {"name": "Extra[B, a]", "version": ""},
    ]


def test_names_are_canonical_per_pep_503() -> None:
    assert canonical_name("Foo_Bar.baz") == "foo-bar-baz"
    assert canonical_name("Foo[Z_z, a]") == "foo[a,z-z]"
    assert [is_twilio(n) for n in ("Twilio", "twilio[extra]", "twilio-x")] == [True, True, False]
    assert twilio_version() == metadata.version("twilio")


def test_twilio_and_the_runtime_handler_are_provided_not_installed() -> None:
    text = (
        '[{"name": "twilio", "version": "8.0"}, {"name": "@twilio/runtime-handler",'
        ' "version": "2.0.0"}, {"name": "foo", "version": "1"}]'
    )
    deps = parse_dependencies(text)
    assert deps.install == ["foo==1"]
    assert deps.provided == ["twilio==8.0", "@twilio/runtime-handler@2.0.0"]


def test_the_runtime_handler_needs_an_exact_version() -> None:
    with pytest.raises(BuildFailure, match="needs an exact version such as 2.0.0; found 'latest'"):
        parse_dependencies('[{"name": "@twilio/runtime-handler", "version": "latest"}]')


@pytest.mark.parametrize(
    ("name", "version", "line"),
    [
        ("requests[socks]", ">=2.31", "requests[socks]>=2.31"),  # extras are kept
        ("foo", "1.0; python_version < '3.99'", 'foo==1.0; python_version < "3.99"'),
        ("foo", ">=1; sys_platform == 'linux'", 'foo>=1; sys_platform == "linux"'),
        ("foo", "@ https://host/foo-1.0.whl", "foo @ https://host/foo-1.0.whl"),
        ("Foo_Bar", "@ https://host/f.whl#sha256=ab", "foo-bar @ https://host/f.whl#sha256=ab"),
        ("foo", "; python_version >= '3'", 'foo; python_version >= "3"'),
    ],
)
def test_extras_markers_and_urls_are_pip_requirements(name: str, version: str, line: str) -> None:
    assert requirement_line(name, version) == line
    deps = parse_dependencies(f'[{{"name": "{name}", "version": {json.dumps(version)}}}]')
    assert deps.install == [line]


def test_no_dependencies() -> None:
    assert parse_dependencies("[]") == ([], [], [])
    assert parse_dependencies("") == ([], [], [])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[{", "not JSON (Expecting property name"),
        ('{"name": "foo"}', "must be a JSON array of name/version objects"),
        ('["foo"]', "Dependencies[0] must be an object with a string name and a string version"),
        ('[{"name": "foo"}]', 'found {"name": "foo"}'),
        ('[{"name": "foo", "version": 1}]', "Dependencies[0] must be an object"),
        ('[{"name": "--index-url=http://evil", "version": ""}]', "is not a Python package name"),
        ('[{"name": "lodash/core", "version": ""}]', "is not a Python package name"),
        ('[{"name": "foo>=1", "version": ""}]', "is not a Python package name"),
        ('[{"name": "foo[a\\n--index-url x]", "version": ""}]', "control character or line"),
        ('[{"name": "foo", "version": "1.0\\n--index-url=http://evil"}]', "control character"),
        ('[{"name": "foo", "version": "1.0 # comment"}]', "not a version"),
        ('[{"name": "foo", "version": "--index-url=http://evil"}]', "not a version"),
        ('[{"name": "twilio", "version": "^9"}]', "not a version"),
        ('[{"name": "foo", "version": "' + "1" * 101 + '"}]', "at most 100 characters"),
    ],
)
def test_malformed_or_dangerous_dependencies_fail(text: str, reason: str) -> None:
    with pytest.raises(BuildFailure) as caught:
        parse_dependencies(text)
    assert reason in str(caught.value)
