"""ChangeDetector: an edit anywhere in the project is seen by the next request, also inside a
folder the project links to."""

from __future__ import annotations

from pathlib import Path

from callbox.toolkit.project import Layout, discover
from callbox.toolkit.watch import ChangeDetector


def linked_project(tmp_path: Path) -> tuple[Path, Path]:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hi.py").write_text("def handler(c, e, cb):\n    cb(None, 'v1')\n")
    root = tmp_path / "project"
    (root / "functions").mkdir(parents=True)
    (root / "functions" / "linked").symlink_to(shared)
    (root / "functions" / "again").symlink_to(shared)
    return root, shared


def test_two_links_to_one_folder_both_count(tmp_path: Path) -> None:
    root, _shared = linked_project(tmp_path)
    routes = discover(Layout.find(root))
    assert {"/linked/hi", "/again/hi"} <= set(routes)


def test_an_edit_inside_a_linked_folder_is_a_change(tmp_path: Path) -> None:
    root, shared = linked_project(tmp_path)
    detector = ChangeDetector(Layout.find(root), [])
    try:
        detector.reset()
        assert not detector.changed()
        (shared / "hi.py").write_text("def handler(c, e, cb):\n    cb(None, 'v2')\n")
        assert detector.changed()
        detector.reset()
        (shared / "new.py").write_text("def handler(c, e, cb):\n    cb(None, 'new')\n")
        assert detector.changed()
    finally:
        detector.close()
