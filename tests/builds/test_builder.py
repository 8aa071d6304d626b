"""Builds end to end against a real SQLite store and blobs; dependencies from a local wheel."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from stuck_uv import gone, started

from callbox.builds import materialise
from callbox.builds.builder import INTERRUPTED, ORPHANED, Builder
from callbox.builds.materialise import STOPPED
from callbox.cluster.nodes import Heartbeat
from callbox.config import Config
from callbox.store.db import Store, utcnow
from callbox.store.sids import BUILD, RESOURCE, VERSION, new_sid
from callbox.store.tables import blobs, build_versions, builds, versions

HELLO = b"def handler(context, event, callback):\n    return callback(None, 'hi')\n"
SERVICE, ACCOUNT = "ZS" + "0" * 32, "AC" + "0" * 32

File = tuple[str, str, str, bytes]  # kind, path, visibility, content


@pytest.fixture
def builder(store: Store, wheels: Path, make_wheel: Callable[..., Path]) -> Iterator[Builder]:
    make_wheel("tinybuild")
    builder = Builder(store, Config.load({}, find_links=str(wheels), no_index=True))
    yield builder
    builder.close()


def add_build(
    store: Store,
    files: list[File],
    *,
    runtime: str = "python3.11",
    dependencies: list[dict[str, str]] | None = None,
    status: str = "building",
    node: str | None = None,
) -> str:
    """Rows as the API writes them: one version per file, then the build listing them."""
    sid, now = new_sid(BUILD), utcnow()
    with store.begin() as conn:
        for position, (kind, path, visibility, content) in enumerate(files):
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
                    content_type="application/octet-stream",
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
                status=status,
                runtime=runtime,
                dependencies=json.dumps(dependencies or []),
                error=None,
                log="",
                date_created=now,
                date_updated=now,
                node=node,
            )
        )
    return sid


def row(store: Store, sid: str) -> Any:
    with store.begin() as conn:
        return conn.execute(sa.select(builds).where(builds.c.sid == sid)).one()


def leftovers(store: Store) -> list[str]:
    return sorted(p.name for p in (store.data / "builds").glob(".*"))


def assert_failed(builder: Builder, sid: str, reason: str) -> str:
    found = row(builder.store, sid)
    assert found.status == "failed", found.log
    assert reason in found.error
    assert found.log.endswith("The build failed.")
    assert not builder.build_dir(sid).exists()
    assert leftovers(builder.store) == []
    return str(found.error)


# --- success ----------------------------------------------------------------------------


def test_a_build_is_materialised_and_completed(builder: Builder, store: Store) -> None:
    files = [
        ("function", "/hello", "public", HELLO),
        ("function", "/sms/reply", "protected", HELLO),
        ("function", "/lib/util", "private", b"def helper():\n    return 1\n"),
        ("asset", "/index.html", "public", b"<h1>hi</h1>"),
        ("asset", "/img/logo.png", "private", b"\x89PNG\x00\xff"),
    ]
    sid = add_build(store, files)
    builder.run(sid)
    found = row(store, sid)
    assert (found.status, found.error) == ("completed", None)
    assert found.date_updated >= found.date_created
    assert "Materialised 3 functions and 2 assets." in found.log
    assert "No dependencies to install." in found.log
    folder = builder.build_dir(sid)
    assert folder == store.data / "builds" / sid
    assert (folder / "functions/hello.py").read_bytes() == HELLO
    assert (folder / "functions/sms/reply.py").read_bytes() == HELLO
    assert (folder / "functions/lib/util.py").is_file()
    assert (folder / "assets/index.html").read_bytes() == b"<h1>hi</h1>"
    assert (folder / "assets/img/logo.png").read_bytes() == b"\x89PNG\x00\xff"
    assert leftovers(store) == []
    assert builder.site_packages(sid) == []


def test_twilio_is_provided_by_the_runtime(builder: Builder, store: Store) -> None:
    deps = [{"name": "twilio", "version": "9.0.0"}]
    sid = add_build(store, [("function", "/hello", "public", HELLO)], dependencies=deps)
    builder.run(sid)
    found = row(store, sid)
    assert found.status == "completed"
    assert "twilio==9.0.0 is not installed: the runtime provides twilio" in found.log
    assert builder.site_packages(sid) == []
    assert not (store.data / "envs").exists()


def test_a_leftover_folder_under_the_final_name_is_replaced(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)])
    stale = builder.build_dir(sid) / "functions"
    stale.mkdir(parents=True)
    (stale / "stale.py").write_text("")
    builder.run(sid)
    assert row(store, sid).status == "completed"
    assert sorted(p.name for p in stale.iterdir()) == ["hello.py"]
    assert leftovers(store) == []


def test_only_building_builds_are_run(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", b"nope(")], status="completed")
    builder.run(sid)
    assert row(store, sid).status == "completed"
    builder.run(new_sid(BUILD))  # unknown: nothing to do, nothing raised


# --- user errors ------------------------------------------------------------------------


def test_a_syntax_error_fails_the_build(builder: Builder, store: Store) -> None:
    source = b"def handler(context, event, callback):\n    x = 1\n    return (\n"
    sid = add_build(store, [("function", "/hello", "public", source)])
    builder.run(sid)
    error = assert_failed(builder, sid, "Function /hello does not compile: line 3: ")
    assert "\n" not in error


def test_every_broken_function_is_reported_at_once(builder: Builder, store: Store) -> None:
    files = [
        ("function", "/one", "public", b"def foo(): pass\nbar = 1\n"),
        ("function", "/two", "public", b"x = (\n"),
        ("function", "/ok", "public", HELLO),
    ]
    sid = add_build(store, files)
    builder.run(sid)
    error = assert_failed(builder, sid, "Function /one has no `handler`; found: bar, foo.")
    assert "Function /two does not compile: line 1:" in error.splitlines()[1]


def test_a_private_helper_without_handler_is_fine(builder: Builder, store: Store) -> None:
    files = [("function", "/lib/util", "private", b"def helper():\n    return 1\n")]
    sid = add_build(store, files)
    builder.run(sid)
    assert row(store, sid).status == "completed"


def test_non_utf8_source_fails_the_build(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", b"# \xff\xfe\n" + HELLO)])
    builder.run(sid)
    assert_failed(builder, sid, "Function /hello is not UTF-8 text")


@pytest.mark.parametrize(
    ("kind", "path"), [("asset", "/../../escape.txt"), ("function", "/a/../../../escape")]
)
def test_a_path_escaping_the_folder_fails(
    builder: Builder, store: Store, tmp_path: Path, kind: str, path: str
) -> None:
    sid = add_build(store, [(kind, path, "public", HELLO)])
    builder.run(sid)
    assert_failed(builder, sid, f"path '{path}' is not allowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "wheels"]
    # (and the SQLite files, when the store is SQLite)
    # (With PostgreSQL the folder also records which database it caches.)
    kept = ("callbox.db", "database")
    names = sorted(p.name for p in store.data.iterdir() if not p.name.startswith(kept))
    assert names == ["blobs", "builds", "secret.key"]


def test_a_runtime_newer_than_this_python_fails(builder: Builder, store: Store) -> None:
    if sys.version_info >= (3, 13):
        pytest.skip("no supported runtime is newer than this interpreter")
    newer = f"python3.{sys.version_info.minor + 1}"
    sid = add_build(store, [("function", "/hello", "public", HELLO)], runtime=newer)
    builder.run(sid)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert_failed(
        builder,
        sid,
        f"{newer} needs Python 3.{sys.version_info.minor + 1}; this server runs Python {running}.",
    )


def test_a_missing_blob_fails_the_build(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("asset", "/gone.txt", "public", b"soon gone")])
    digest = store.blobs.put(b"soon gone")
    store.blobs.path(digest).unlink()
    with store.begin() as conn:  # PostgreSQL: the database holds it too
        conn.execute(blobs.delete().where(blobs.c.sha256 == digest))
    builder.run(sid)
    assert_failed(builder, sid, "The content of asset /gone.txt (version ZN")


def test_a_blob_missing_from_the_data_folder_comes_from_the_database(
    builder: Builder, store: Store
) -> None:
    """PostgreSQL: the data folder is a cache (another node's upload is not in it)."""
    if not store.shared:
        pytest.skip("With SQLite the data folder is the blob store.")
    sid = add_build(store, [("asset", "/elsewhere.txt", "public", b"uploaded elsewhere")])
    shutil.rmtree(store.blobs.root)
    builder.run(sid)
    assert row(store, sid).status == "completed"
    assert (builder.build_dir(sid) / "assets/elsewhere.txt").read_bytes() == b"uploaded elsewhere"
    assert store.blobs.path(store.blobs.put(b"uploaded elsewhere")).is_file()


def test_an_internal_error_fails_the_build_and_is_logged(
    builder: Builder, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)])

    def broken(digest: str) -> bytes:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.blobs, "get", broken)
    builder.run(sid)
    error = assert_failed(builder, sid, "Internal error while building (RuntimeError); the server")
    assert "disk on fire" not in error
    assert f"Build {sid} stopped on an internal error." in caplog.text
    assert "RuntimeError: disk on fire" in caplog.text


def test_an_internal_error_never_shows_server_paths(
    builder: Builder, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)])
    where = str(store.data / "builds" / f".tmp-{sid}-x" / "functions" / "hello.py")

    def broken(path: Path, data: bytes) -> int:
        raise OSError(36, "File name too long", where)

    monkeypatch.setattr(Path, "write_bytes", broken)
    builder.run(sid)
    error = assert_failed(builder, sid, "Internal error while building (OSError)")
    assert error == "Internal error while building (OSError); the server log has the details."
    assert where in caplog.text  # the operator still learns which file


def test_a_path_segment_too_long_for_a_file_name_fails_readably(
    builder: Builder, store: Store
) -> None:
    # Uploads refuse such paths now; a version stored before that still fails with a reason.
    sid = add_build(store, [("function", "/" + "a" * 254, "public", HELLO)])
    builder.run(sid)
    error = assert_failed(builder, sid, "has a segment of 254 bytes")
    assert "at most 200 bytes" in error and str(store.data) not in error


# --- dependencies -----------------------------------------------------------------------


def test_one_dependency_set_is_installed_once(builder: Builder, store: Store) -> None:
    # Written differently (case, "_", order of keys), normalised to one set: one environment.
    files = [("function", "/hello", "public", HELLO)]
    first = add_build(store, files, dependencies=[{"name": "tinybuild", "version": "0.1"}])
    second = add_build(store, files, dependencies=[{"version": "==0.1", "name": "TinyBuild"}])
    builder.submit(first)
    builder.submit(second)  # both at once: the per-set lock lets one install, the other wait
    assert builder.wait_idle(30)
    logs = [row(store, sid).log for sid in (first, second)]
    assert [row(store, sid).status for sid in (first, second)] == ["completed"] * 2
    fresh = [log for log in logs if "Installed 1 dependency: tinybuild==0.1." in log]
    cached = [log for log in logs if "Installed 1 dependency: tinybuild==0.1 (cached)." in log]
    assert (len(fresh), len(cached)) == (1, 1)
    env = builder.site_packages(first)
    assert env == builder.site_packages(second)
    account = row(store, first).account_sid
    assert Path(env[0]).parent == store.data / "envs" / account  # an account's own environments
    assert (Path(env[0]) / "tinybuild.py").read_text() == 'VALUE = "tinybuild 0.1 works"\n'


def test_a_failed_install_fails_the_build_readably(builder: Builder, store: Store) -> None:
    deps = [{"name": "callbox-test-no-such-package", "version": "1.0"}]
    sid = add_build(store, [("function", "/hello", "public", HELLO)], dependencies=deps)
    builder.run(sid)
    error = assert_failed(builder, sid, "Installing callbox-test-no-such-package==1.0 failed:")
    assert "callbox-test-no-such-package" in error.split("\n", 1)[1]  # uv's explanation
    assert "\x1b[" not in error
    assert [p.name for p in (store.data / "envs" / row(store, sid).account_sid).iterdir()] == [
        f".{Path(builder.site_packages(sid)[0]).name}.lock"
    ]


# --- background, restarts, other nodes --------------------------------------------------


def test_submitted_builds_run_in_the_background(builder: Builder, store: Store) -> None:
    good = [add_build(store, [("function", f"/f{i}", "public", HELLO)]) for i in range(4)]
    bad = [add_build(store, [("function", "/bad", "public", b"(")]) for _ in range(2)]
    for sid in good + bad:
        builder.submit(sid)
    assert builder.wait_idle(30)
    assert [row(store, sid).status for sid in good] == ["completed"] * 4
    assert [row(store, sid).status for sid in bad] == ["failed"] * 2
    assert leftovers(store) == []


def test_close_lets_running_builds_finish_briefly_and_drops_queued_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = Builder(store, Config.load({}, build_concurrency=1))
    started, release = threading.Event(), threading.Event()
    read = store.blobs.get

    def slow(digest: str) -> bytes:
        started.set()
        release.wait(5)
        return read(digest)

    monkeypatch.setattr(store.blobs, "get", slow)
    running = add_build(store, [("function", "/hello", "public", HELLO)])
    queued = add_build(store, [("function", "/hello", "public", HELLO)])
    builder.submit(running)
    builder.submit(queued)
    assert started.wait(5)
    threading.Timer(0.1, release.set).start()
    builder.close()
    assert row(store, running).status == "completed"
    assert row(store, queued).status == "building"  # failed by the next start's recover()
    assert builder.wait_idle(0)
    with pytest.raises(RuntimeError, match="closed"):
        builder.submit(queued)


def test_close_does_not_wait_for_a_stuck_install(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the review: a stuck index held `callbox serve` 128 s after Ctrl+C. This install is
    # no uv process close could kill, so close must simply not wait for it.
    release = threading.Event()

    def stuck(*_args: Any, **_kw: Any) -> bool:
        release.wait(4)
        return True

    monkeypatch.setattr(materialise, "install", stuck)
    builder = Builder(store, Config.load({}))
    sid = add_build(
        store,
        [("function", "/hello", "public", HELLO)],
        dependencies=[{"name": "six", "version": "1.16.0"}],
    )
    builder.submit(sid)
    time.sleep(0.3)
    began = time.monotonic()
    builder.close()
    assert time.monotonic() - began < 2.0
    release.set()
    assert builder.wait_idle(5)
    # The install "succeeded" after the server stopped: the build must not complete then.
    assert_failed(builder, sid, STOPPED)


def test_close_kills_a_running_uv_and_fails_its_build(
    builder: Builder, store: Store, stuck_uv: Path
) -> None:
    deps = [{"name": "six", "version": "1.16.0"}]
    files = [("function", "/hello", "public", HELLO)]
    running = add_build(store, files, dependencies=deps)
    waiting = add_build(store, files, dependencies=deps)  # same set: waits for the env's lock
    builder.submit(running)
    builder.submit(waiting)
    pids = started(stuck_uv)
    began = time.monotonic()
    builder.close()
    assert time.monotonic() - began < 2.0
    assert gone(pids)  # uv and the child it started
    for sid in (running, waiting):
        found = row(store, sid)
        assert (found.status, found.error) == ("failed", STOPPED), found.log
    assert not builder.build_dir(running).exists() and leftovers(store) == []
    assert [p.name for p in (store.data / "envs" / row(store, sid).account_sid).iterdir()] == [
        f".{Path(builder.site_packages(running)[0]).name}.lock"
    ]


def test_recover_fails_interrupted_builds_and_removes_temporary_folders(
    builder: Builder, store: Store
) -> None:
    files = [("function", "/hello", "public", HELLO)]
    interrupted = add_build(store, files, node=builder.node)  # claimed by this node, then it died
    done = add_build(store, files)
    builder.run(done)
    root = store.data / "builds"
    (root / f".tmp-{interrupted}-abc123" / "functions").mkdir(parents=True)
    builder.build_dir(interrupted).mkdir()  # renamed, but the commit never happened
    assert builder.recover() == [interrupted]
    found = row(store, interrupted)
    assert (found.status, found.error) == ("failed", INTERRUPTED)
    assert row(store, done).status == "completed"
    assert sorted(p.name for p in root.iterdir()) == [done]
    assert builder.recover() == []


def test_ensure_materialised_writes_a_missing_folder_again(builder: Builder, store: Store) -> None:
    files = [("function", "/hello", "public", HELLO), ("asset", "/a/b.txt", "public", b"b")]
    deps = [{"name": "tinybuild", "version": "0.1"}]
    sid = add_build(store, files, dependencies=deps)
    builder.run(sid)
    folder = builder.build_dir(sid)
    shutil.rmtree(folder)
    shutil.rmtree(store.data / "envs")  # as on another node: no environment either
    assert builder.ensure_materialised(sid) == folder
    assert (folder / "functions/hello.py").read_bytes() == HELLO
    assert (folder / "assets/a/b.txt").read_bytes() == b"b"
    assert (Path(builder.site_packages(sid)[0]) / "tinybuild.py").is_file()
    assert builder.ensure_materialised(sid) == folder  # present: nothing to do
    assert leftovers(store) == []


def test_ensure_materialised_refuses_builds_that_did_not_complete(
    builder: Builder, store: Store
) -> None:
    sid = add_build(store, [("function", "/bad", "public", b"(")])
    builder.run(sid)
    with pytest.raises(ValueError, match="is failed"):
        builder.ensure_materialised(sid)
    with pytest.raises(LookupError):
        builder.ensure_materialised(new_sid(BUILD))
    with pytest.raises(ValueError, match="not a build sid"):
        builder.build_dir("../etc")


def test_discard_removes_a_deleted_builds_folder(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)])
    builder.run(sid)
    assert builder.build_dir(sid).is_dir()
    builder.discard(sid)
    assert not builder.build_dir(sid).exists()
    assert leftovers(store) == []
    builder.discard(sid)  # nothing left: still fine


# --- several nodes: one node per build ----------------------------------------------------


def test_a_build_records_the_node_that_ran_it(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)])
    builder.run(sid)
    found = row(store, sid)
    assert (found.status, found.node) == ("completed", builder.node)
    assert found.claimed_at is not None


def test_a_build_another_node_claimed_is_left_to_it(builder: Builder, store: Store) -> None:
    sid = add_build(store, [("function", "/hello", "public", HELLO)], node="other-node")
    builder.run(sid)
    found = row(store, sid)
    assert (found.status, found.node) == ("building", "other-node")
    assert not builder.build_dir(sid).exists()


def test_of_two_nodes_racing_for_a_build_one_runs_it(
    store: Store, wheels: Path, builder: Builder
) -> None:
    other = Builder(store, Config.load({}, find_links=str(wheels), no_index=True), node="b")
    ran: list[str] = []
    for each in (builder, other):
        original = each._build

        def counted(found: Any, log: list[str], each: Builder = each, original: Any = original):
            ran.append(each.node)
            original(found, log)

        each._build = counted  # type: ignore[method-assign]
    try:
        for _ in range(5):
            sid = add_build(store, [("function", "/hello", "public", HELLO)])
            ran.clear()
            runners = [threading.Thread(target=b.run, args=(sid,)) for b in (builder, other)]
            for runner in runners:
                runner.start()
            for runner in runners:
                runner.join()
            found = row(store, sid)
            assert ran == [found.node] and found.status == "completed"
    finally:
        other.close()


def test_the_outcome_of_a_build_failed_meanwhile_is_not_recorded(
    builder: Builder, store: Store
) -> None:
    """A node taken for dead (its build failed by another) that finishes after all."""
    sid = add_build(store, [("function", "/hello", "public", HELLO)])
    original = builder._build

    def build_then_lose_it(found: Any, log: list[str]) -> None:
        original(found, log)
        with store.begin() as conn:
            conn.execute(builds.update().where(builds.c.sid == sid).values(status="failed"))

    builder._build = build_then_lose_it  # type: ignore[method-assign]
    builder.run(sid)
    assert row(store, sid).status == "failed"
    assert not builder.build_dir(sid).exists()


def test_recover_leaves_the_builds_of_other_nodes_alone(builder: Builder, store: Store) -> None:
    files = [("function", "/hello", "public", HELLO)]
    theirs = add_build(store, files, node="other-node")
    queued = add_build(store, files)
    assert builder.recover() == []
    assert row(store, theirs).status == "building"
    assert (row(store, queued).status, row(store, queued).node) == ("building", None)


def test_the_builds_of_a_node_without_heartbeat_fail(builder: Builder, store: Store) -> None:
    files = [("function", "/hello", "public", HELLO)]
    alive, dead, mine = "alive-node", "dead-node", builder.node
    Heartbeat(store, alive).beat()
    Heartbeat(store, dead).beat()
    with store.begin() as conn:  # the dead one last beat a minute ago
        conn.execute(
            sa.text("UPDATE nodes SET seen_at = :t WHERE name = :n"),
            {"t": utcnow() - timedelta(minutes=1), "n": dead},
        )
    of_alive = add_build(store, files, node=alive)
    of_dead = add_build(store, files, node=dead)
    of_vanished = add_build(store, files, node="never-seen")
    of_mine = add_build(store, files, node=mine)
    assert sorted(builder.fail_orphans()) == sorted([of_dead, of_vanished])
    found = row(store, of_dead)
    assert (found.status, found.error) == ("failed", ORPHANED.format(node=dead))
    assert row(store, of_alive).status == "building"
    assert row(store, of_mine).status == "building"
    assert builder.fail_orphans() == []


def test_queued_builds_nobody_claimed_are_claimed_and_run(builder: Builder, store: Store) -> None:
    files = [("function", "/hello", "public", HELLO)]
    queued = [add_build(store, files) for _ in range(3)]
    taken = add_build(store, files, node="other-node")
    claimed = builder.claim_queued()
    assert set(claimed) <= set(queued) and len(claimed) == builder.config.build_concurrency
    assert builder.wait_idle(30)
    while rest := builder.claim_queued():
        assert set(rest) <= set(queued)
        assert builder.wait_idle(30)
    assert {row(store, sid).status for sid in queued} == {"completed"}
    assert row(store, taken).status == "building"
