"""builds/prepare.py: each build prepared once in the background, however many want it; a
failure answered for a while, then tried again."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from callbox.builds import prepare as prepare_module
from callbox.builds.prepare import Preparer


class Builds:
    """A materialiser whose preparations wait for ``release`` and may be made to fail."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: Counter[str] = Counter()
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.failing: set[str] = set()

    def build_dir(self, build_sid: str) -> Path:
        return self.root / build_sid

    def ensure_materialised(self, build_sid: str) -> Path:
        self.calls[build_sid] += 1
        self.started.set()
        assert self.release.wait(10), "the test never released the preparation"
        if build_sid in self.failing:
            raise OSError(f"blob of {build_sid} is missing")
        folder = self.build_dir(build_sid)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@pytest.fixture
def builds(tmp_path: Path) -> Builds:
    return Builds(tmp_path / "builds")


@pytest.fixture
def preparer(builds: Builds) -> Iterator[Preparer]:
    made = Preparer(builds)
    yield made
    builds.release.set()
    made.close()


def test_a_build_is_prepared_once_however_many_callers(builds: Builds, preparer: Preparer) -> None:
    builds.release.clear()
    jobs = []
    callers = [
        threading.Thread(target=lambda: jobs.append(preparer.prepare("ZB1"))) for _ in range(20)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert len(jobs) == 20 and all(job is jobs[0] for job in jobs)
    assert not preparer.ready("ZB1")
    builds.release.set()
    assert jobs[0].result(5) == builds.build_dir("ZB1")
    assert preparer.ready("ZB1")
    assert preparer.prepare("ZB1") is jobs[0]  # done: not again
    assert builds.calls == {"ZB1": 1}


def test_ready_is_whether_the_folder_is_on_disk(builds: Builds, preparer: Preparer) -> None:
    assert not preparer.ready("ZB1")
    builds.build_dir("ZB1").mkdir(parents=True)  # built on this node: nothing to prepare
    assert preparer.ready("ZB1")
    assert builds.calls == {}


def test_builds_are_prepared_side_by_side(builds: Builds, preparer: Preparer) -> None:
    builds.release.clear()
    one, two = preparer.prepare("ZB1"), preparer.prepare("ZB2")
    assert one is not two
    builds.release.set()
    assert (one.result(5), two.result(5)) == (builds.build_dir("ZB1"), builds.build_dir("ZB2"))


def test_a_failure_is_remembered_then_tried_again(
    builds: Builds,
    preparer: Preparer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    builds.failing.add("ZB1")
    failed = preparer.prepare("ZB1")
    with pytest.raises(OSError, match="blob of ZB1 is missing"):
        failed.result(5)
    assert "Build ZB1 could not be prepared on this node: blob of ZB1 is missing" in caplog.text
    assert preparer.prepare("ZB1") is failed  # within RETRY_AFTER_FAILURE: the same answer
    assert builds.calls == {"ZB1": 1}
    builds.failing.clear()  # (the blob came back)
    monkeypatch.setattr(prepare_module, "RETRY_AFTER_FAILURE", 0.0)
    again = preparer.prepare("ZB1")
    assert again is not failed
    assert again.result(5) == builds.build_dir("ZB1")
    assert builds.calls == {"ZB1": 2}


def test_a_prepared_build_whose_folder_went_is_prepared_again(
    builds: Builds, preparer: Preparer
) -> None:
    first = preparer.prepare("ZB1")
    first.result(5)
    shutil.rmtree(builds.build_dir("ZB1"))  # (an operator cleaned the disk)
    assert not preparer.ready("ZB1")
    again = preparer.prepare("ZB1")
    assert again is not first
    assert again.result(5) == builds.build_dir("ZB1") and preparer.ready("ZB1")
    assert builds.calls == {"ZB1": 2}


def test_forget_drops_finished_jobs_of_builds_no_longer_deployed(
    builds: Builds, preparer: Preparer
) -> None:
    builds.failing.add("ZB2")
    done, failed = preparer.prepare("ZB1"), preparer.prepare("ZB2")
    done.result(5)
    with pytest.raises(OSError):
        failed.result(5)
    builds.release.clear()
    running = preparer.prepare("ZB3")
    kept = preparer.prepare("ZB4")  # (two workers: both run, held by the test)
    preparer.forget(keep={"ZB1"})
    assert preparer.prepare("ZB1") is done  # still deployed: kept
    assert preparer.prepare("ZB3") is running  # still running: kept
    assert preparer.prepare("ZB4") is kept
    builds.failing.clear()
    again = preparer.prepare("ZB2")  # its failure was forgotten with it: tried again at once
    assert again is not failed
    builds.release.set()
    assert again.result(5) == builds.build_dir("ZB2")


def test_close_cancels_what_waits_and_refuses_what_comes(builds: Builds) -> None:
    preparer = Preparer(builds, workers=1)
    builds.release.clear()
    running = preparer.prepare("ZB1")
    assert builds.started.wait(5)
    queued = preparer.prepare("ZB2")
    preparer.close()
    assert queued.cancelled()
    for sid in ["ZB2", "ZB3"]:  # a job cancelled by the stop, and a new one
        refused = preparer.prepare(sid)
        with pytest.raises(RuntimeError, match="The server is stopping."):
            refused.result(0)
    builds.release.set()
    assert running.result(5) == builds.build_dir("ZB1")  # the running one finishes
    assert builds.calls == {"ZB1": 1}
    with pytest.raises(CancelledError):
        queued.result(0)
