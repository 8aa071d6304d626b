"""Has the project changed since it was last read? Asked on every request, so it must be cheap.

On Linux, inotify queues an event the moment a file is written, added or removed, so one
non-blocking read answers exactly: an edit made just before a request is always seen by it.
Elsewhere, a fingerprint of every file's mtime and size is compared (a walk per request).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from callbox.toolkit.project import ASSET_FOLDERS, FUNCTION_FOLDERS, Layout, fingerprint, walk

try:
    from inotify_simple import INotify, flags, parse_events
except ImportError:  # not Linux: the fingerprint fallback below does the job
    INotify = None

_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


class ChangeDetector:
    def __init__(self, layout: Layout, files: list[Path]) -> None:
        self.layout = layout
        self.files = files
        self._inotify: Any = None
        self._folders: dict[int, Path] = {}
        self._names_in: dict[Path, set[str]] = {}
        self._tree: set[Path] = set()
        self._fingerprint: Any = None
        self._dirty = True

    def changed(self) -> bool:
        if self._dirty:
            return True
        if self._inotify is None:
            self._dirty = self._fingerprint_now() != self._fingerprint
        else:
            try:
                data = os.read(self._inotify.fileno(), 65536)  # one syscall; EAGAIN when quiet
            except BlockingIOError:
                return False
            self._dirty = any(self._relevant(event) for event in parse_events(data))
        return self._dirty

    def reset(self) -> None:
        """Watch from now on; call it before reading the project so no change slips between."""
        self.close()
        if INotify is not None:
            self._inotify = INotify(nonblocking=True)
            self._watch_all()
        else:
            self._fingerprint = self._fingerprint_now()
        self._dirty = False

    def _fingerprint_now(self) -> Any:
        # The candidate folders are included so that one created later counts.
        folders = [self.layout.root / name for name in FUNCTION_FOLDERS + ASSET_FOLDERS]
        return fingerprint(self.layout, self.files + folders)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        self._folders.clear()

    def _watch_all(self) -> None:
        mask = (
            flags.CREATE
            | flags.DELETE
            | flags.MODIFY
            | flags.MOVED_FROM
            | flags.MOVED_TO
            | flags.ATTRIB
            | flags.DELETE_SELF
            | flags.MOVE_SELF
        )
        self._names_in = {}
        for path in self.files:
            self._names_in.setdefault(path.parent, set()).add(path.name)
        for top in (self.layout.functions, self.layout.assets):
            if top is not None:
                self._names_in.setdefault(top.parent, set()).add(top.name)
        # A functions/ or assets/ folder created later must count too.
        self._names_in.setdefault(self.layout.root, set()).update(FUNCTION_FOLDERS + ASSET_FOLDERS)
        folders = set(self._names_in)
        self._tree = set()
        for top in (self.layout.functions, self.layout.assets):
            if top is None:
                continue
            # The same walk as the project's (linked folders followed), so an edit inside a
            # linked folder is seen too.
            for dirpath, _ in walk(top, hidden=True):
                folders.add(Path(dirpath))
                self._tree.add(Path(dirpath))
        for folder in folders:
            try:
                self._folders[self._inotify.add_watch(folder, mask)] = folder
            except OSError:
                continue  # a folder that vanished meanwhile: its parent's event covers it

    def _relevant(self, event: Any) -> bool:
        name: str = event.name
        if name == "__pycache__" or name.endswith(_IGNORED_SUFFIXES):
            return False
        folder = self._folders.get(event.wd)
        if folder is None or folder in self._tree:
            return True  # inside functions/ or assets/: every file counts
        # The root or the folder of a custom .env: only the watched names count (not .callbox/).
        return name in self._names_in.get(folder, set())
