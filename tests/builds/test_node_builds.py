"""Node.js builds end to end against a real store, the real sandbox (as the machine allows:
isolated as root) and the npm registry: runtimes, the functions' checks, npm installs cached
per account and dependency set, npm's reasons for a bad version, one language per build."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callbox.builds import runtimes
from callbox.builds.builder import Builder
from callbox.builds.runtimes import newest_node_runtime
from callbox.config import Config
from callbox.sandbox.policy import Sandbox
from callbox.store.db import Store, utcnow
from callbox.store.sids import BUILD, RESOURCE, VERSION, new_sid
from callbox.store.tables import build_versions, builds, versions

NODE = newest_node_runtime() or "node22"
JS = "application/javascript"
HELLO = b"exports.handler = function (context, event, callback) { callback(null, 'hi'); };\n"
SERVICE, ACCOUNT = "ZS" + "1" * 32, "AC" + "1" * 32
DEFAULTS = [
    {"name": "twilio", "version": "^5.0.0"},
    {"name": "@twilio/runtime-handler", "version": "2.0.1"},
]

File = tuple[str, str, str, bytes, str]  # kind, path, visibility, content, content type


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # One store for the module: its account's npm cache makes later installs quick.
    store = Store.open(tmp_path_factory.mktemp("node-builds") / "data")
    yield store
    store.close()


@pytest.fixture(scope="module")
def builder(module_store: Store) -> Iterator[Builder]:
    config = Config.load({})
    sandbox = Sandbox(config.sandbox_settings(), hidden=[module_store.data])
    builder = Builder(module_store, config, sandbox)
    yield builder
    builder.close()
    sandbox.close()


def add_build(
    store: Store,
    files: list[File],
    *,
    runtime: str = NODE,
    dependencies: list[dict[str, str]] | None = None,
) -> str:
    """Rows as the API writes them: one version per file, then the build listing them."""
    sid, now = new_sid(BUILD), utcnow()
    with store.begin() as conn:
        for position, (kind, path, visibility, content, content_type) in enumerate(files):
            version_sid = new_sid(VERSION)
            conn.execute(
                versions.insert().values(
                    sid=version_sid,
                    account_sid=ACCOUNT,
                    service_sid=SERVICE,
                    resource_sid=new_sid(RESOURCE),
                    kind=kind,
                    path=path,
                    visibility=visibility,
                    content_sha256=store.blobs.put(content),
                    size=len(content),
                    content_type=content_type,
                    date_created=now,
                )
            )
            conn.execute(
                build_versions.insert().values(
                    build_sid=sid, version_sid=version_sid, position=position
                )
            )
        conn.execute(
            builds.insert().values(
                sid=sid,
                account_sid=ACCOUNT,
                service_sid=SERVICE,
                status="building",
                runtime=runtime,
                dependencies=json.dumps(DEFAULTS if dependencies is None else dependencies),
                error=None,
                log="",
                date_created=now,
                date_updated=now,
            )
        )
    return sid


def run(builder: Builder, sid: str) -> Any:
    builder.run(sid)
    with builder.store.begin() as conn:
        return conn.execute(sa.select(builds).where(builds.c.sid == sid)).one()


def failed(builder: Builder, sid: str) -> str:
    found = run(builder, sid)
    assert found.status == "failed", found.log
    assert not builder.build_dir(sid).exists()
    return str(found.error)


def installed_version(modules: Path, name: str) -> str:
    return str(json.loads((modules / name / "package.json").read_text())["version"])


# --- dependencies -----------------------------------------------------------------------


def test_twilio_is_installed_once_per_set_and_account(builder: Builder) -> None:
    store = builder.store
    first = add_build(store, [("function", "/hello", "public", HELLO, JS)])
    done = run(builder, first)
    assert done.status == "completed", done.error
    assert f"Runtime {NODE} on Node.js {runtimes.node_version()}." in done.log
    assert "Every function compiles; public and protected ones export `handler`." in done.log
    assert "Installed 1 dependency: twilio@^5.0.0." in done.log
    assert "@twilio/runtime-handler@2.0.1 is not installed: callbox is the runtime handler" in (
        done.log
    )
    assert (builder.build_dir(first) / "functions" / "hello.js").read_bytes() == HELLO
    modules = Path(builder.site_packages(first)[0])
    assert modules.name == "node_modules"
    assert modules.parent.parent == store.data / "envs" / ACCOUNT  # the account's own
    assert modules.parent.name.startswith("node-")
    assert installed_version(modules, "twilio").startswith("5.")
    assert (store.data / "cache" / ACCOUNT / "npm").is_dir()  # npm's cache: the account's
    if builder.sandbox is not None and builder.sandbox.mode == "isolated":
        # npm ran in the sandbox, as the account's uid: it owns what it wrote.
        uid = os.stat(modules / "twilio" / "package.json").st_uid
        assert uid == builder.sandbox.settings.uid_base + _slot(store)
    # The same set again (written in another order): nothing is installed.
    second = add_build(
        store, [("function", "/hello", "public", HELLO, JS)], dependencies=DEFAULTS[::-1]
    )
    again = run(builder, second)
    assert again.status == "completed", again.error
    assert "Installed 1 dependency: twilio@^5.0.0 (cached)." in again.log
    assert builder.site_packages(second) == builder.site_packages(first)


def _slot(store: Store) -> int:
    from callbox.store import slots

    return slots.slot_of(store, ACCOUNT)


def test_exact_versions_ranges_and_tags_install(builder: Builder) -> None:
    deps = [
        {"name": "ms", "version": "2.1.3"},
        {"name": "is-number", "version": "^7.0.0"},
        {"name": "depd", "version": "~2.0"},
        {"name": "escape-html", "version": "latest"},
        {"name": "@twilio/runtime-handler", "version": "1.2.1"},  # a version Twilio documents
    ]
    sid = add_build(builder.store, [("function", "/hello", "public", HELLO, JS)], dependencies=deps)
    done = run(builder, sid)
    assert done.status == "completed", done.error
    modules = Path(builder.site_packages(sid)[0])
    assert installed_version(modules, "ms") == "2.1.3"
    assert installed_version(modules, "is-number").startswith("7.")
    assert installed_version(modules, "depd").startswith("2.0.")
    assert installed_version(modules, "escape-html")  # whatever latest is
    assert not (modules / "@twilio" / "runtime-handler").exists()  # callbox itself
    assert not (modules / "twilio").exists()  # the build's own list, as sent


def test_a_version_npm_cannot_find_fails_the_build_with_npms_reason(builder: Builder) -> None:
    deps = [{"name": "ms", "version": "99.99.99"}]
    sid = add_build(builder.store, [("function", "/hello", "public", HELLO, JS)], dependencies=deps)
    error = failed(builder, sid)
    assert error.startswith("npm could not install ms@99.99.99:")
    assert "No matching version found for ms@99.99.99" in error  # npm's own words
    # No half-made environment is left for a later build to trust.
    envs = store_envs(builder)
    assert not [p for p in envs if p.is_dir() and not (p / ".requirements-sha256").exists()]


def store_envs(builder: Builder) -> list[Path]:
    return list((builder.store.data / "envs" / ACCOUNT).iterdir())


@pytest.mark.parametrize(
    ("deps", "reason"),
    [
        ([{"name": "Bad Name", "version": "1"}], "is not an npm package name"),
        ([{"name": "ms", "version": "git+https://host/ms.git"}], "not an npm version"),
        ([{"name": "ms", "version": "file:../ms"}], "not an npm version"),
        ([{"name": "@twilio/runtime-handler", "version": "latest"}], "needs an exact version"),
        ([{"name": "ms", "version": "1"}, {"name": "ms", "version": "2"}], "listed twice"),
    ],
)
def test_dependencies_npm_would_not_take_from_twilio_fail(
    builder: Builder, deps: list[dict[str, str]], reason: str
) -> None:
    sid = add_build(builder.store, [("function", "/hello", "public", HELLO, JS)], dependencies=deps)
    assert reason in failed(builder, sid)


# --- the functions' checks --------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        b"exports.handler = async (context, event, callback) => callback(null, 1);",
        b"module.exports.handler = function (c, e, cb) { cb(); };",
        b"exports['handler'] = (c, e, cb) => cb();",
        b"const handler = (c, e, cb) => cb();\nmodule.exports = { handler };",
        b'"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n'
        b"exports.handler = void 0;\nconst handler = (c, e, cb) => cb();\n"
        b"exports.handler = handler;",
        b"#!/usr/bin/env node\nexports.handler = (c, e, cb) => cb(); // a shebang line is fine",
    ],
)
def test_the_ways_of_exporting_handler_pass(builder: Builder, source: bytes) -> None:
    sid = add_build(builder.store, [("function", "/f", "public", source, JS)], dependencies=[])
    done = run(builder, sid)
    assert done.status == "completed", done.error
    assert "No dependencies to install." in done.log


def test_every_broken_function_is_reported_at_once_without_running_it(
    builder: Builder, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    files: list[File] = [
        (
            "function",
            "/syntax",
            "public",
            b"exports.handler = (c, e, cb) => {\n  cb(null, 1)\n",
            JS,
        ),
        ("function", "/nohandler", "protected", b"exports.main = 1;\nexports.other = 2;\n", JS),
        ("function", "/commented", "public", b"// exports.handler = 1\nconst x = 1;\n", JS),
        ("function", "/esm", "public", b"import x from 'y';\nexport const handler = x;\n", JS),
        # Would write a file if anything ran it: nothing may.
        (
            "function",
            "/effects",
            "public",
            f"require('fs').writeFileSync({json.dumps(str(marker))}, 'x');\n".encode(),
            JS,
        ),
        ("function", "/lib/helper", "private", b"module.exports = { add: (a, b) => a + b };", JS),
    ]
    sid = add_build(builder.store, files, dependencies=[])
    error = failed(builder, sid)
    lines = error.split("\n")
    assert (
        lines[0]
        == "Function /syntax does not compile: line 3: SyntaxError: Unexpected end of input"
    )
    assert lines[1] == (
        "Function /nohandler does not export `handler`; found exports: main, other. Write "
        "`exports.handler = function (context, event, callback) { ... }` (or async)."
    )
    assert lines[2].startswith(
        "Function /commented does not export `handler`; found exports: nothing."
    )
    assert lines[3] == (
        "Function /esm does not compile: line 1: SyntaxError: Cannot use import statement "
        "outside a module"
    )
    assert lines[4].startswith("Function /effects does not export `handler`")
    assert len(lines) == 5  # the private helper needs no handler
    assert not marker.exists()


# --- runtimes and languages -------------------------------------------------------------


def test_a_node_runtime_newer_than_the_servers_node_fails(
    builder: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtimes, "node_version", lambda *_: "18.20.4")
    sid = add_build(builder.store, [("function", "/hello", "public", HELLO, JS)], runtime="node20")
    assert failed(builder, sid) == (
        "node20 needs Node.js 20; this server runs Node.js 18.20.4. Build with node18 or run "
        "the server with Node.js 20 on its PATH."
    )


def test_python_functions_in_a_node_build_fail_naming_them(builder: Builder) -> None:
    python = b"def handler(context, event, callback):\n    return callback(None, 'hi')\n"
    files: list[File] = [
        ("function", "/hello", "public", HELLO, JS),
        ("function", "/py", "public", python, "text/x-python"),
        ("function", "/unknown", "public", HELLO, "application/octet-stream"),  # runtime's
    ]
    sid = add_build(builder.store, files, dependencies=[])
    error = failed(builder, sid)
    assert error.startswith(f"This {NODE} build holds Python functions (.py): /py (text/x-python")
    assert "/hello" not in error and "/unknown" not in error
    assert "A build runs one language" in error


def test_javascript_functions_in_a_python_build_fail_naming_them(builder: Builder) -> None:
    files: list[File] = [
        ("function", "/a", "public", HELLO, JS),
        ("function", "/b", "public", HELLO, "text/javascript"),
    ]
    sid = add_build(builder.store, files, runtime="python3.11", dependencies=[])
    error = failed(builder, sid)
    assert error.startswith("This python3.11 build holds JavaScript functions (.js): /a (")
    assert "/b (text/javascript" in error


def test_a_node_build_is_written_again_from_the_blobs(builder: Builder) -> None:
    # Another node of a cluster: the folder is gone, the rows and blobs are there.
    sid = add_build(builder.store, [("function", "/hello", "public", HELLO, JS)])
    assert run(builder, sid).status == "completed"
    builder.discard(sid)
    folder = builder.ensure_materialised(sid)
    assert (folder / "functions" / "hello.js").read_bytes() == HELLO
