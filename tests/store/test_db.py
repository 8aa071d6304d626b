"""store/db.py: opening a data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callbox.store.db import Store


def test_a_relative_data_folder_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.open(Path("relative-data"))
    try:
        assert store.data == tmp_path / "relative-data"
        assert store.blobs.root.is_absolute()
    finally:
        store.close()


def test_the_data_folder_is_private(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    try:
        assert os.stat(store.data).st_mode & 0o777 == 0o700
        assert (store.data / "secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def test_opening_twice_keeps_the_schema_and_the_key(tmp_path: Path) -> None:
    first = Store.open(tmp_path / "data")
    sealed = first.box.seal("token")
    first.close()
    second = Store.open(tmp_path / "data")
    try:
        assert second.box.open(sealed) == "token"
    finally:
        second.close()
