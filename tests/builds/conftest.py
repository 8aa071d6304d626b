"""Dependencies come from hand-made wheels in a find-links folder: no index, no network."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from stuck_uv import make_stuck_uv


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """The find-links folder, empty until ``make_wheel`` writes into it."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    return folder


@pytest.fixture
def make_wheel(wheels: Path) -> Callable[..., Path]:
    """Writes a minimal valid pure-Python wheel into ``wheels``: one module, METADATA, WHEEL
    and RECORD. Its module says ``VALUE = "<name> <version> works"``."""

    def make(name: str, version: str = "0.1") -> Path:
        dist_info = f"{name}-{version}.dist-info"
        files = {
            f"{name}.py": f'VALUE = "{name} {version} works"\n',
            f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            f"{dist_info}/WHEEL": (
                "Wheel-Version: 1.0\nGenerator: callbox-tests\nRoot-Is-Purelib: true\n"
                "Tag: py3-none-any\n"
            ),
        }
        record = []
        for path, text in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
        record.append(f"{dist_info}/RECORD,,")
        files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
        wheel = wheels / f"{name}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for path, text in files.items():
                archive.writestr(path, text)
        return wheel

    return make


@pytest.fixture
def stuck_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Makes ``install`` run a uv that never finishes; see ``stuck_uv.make_stuck_uv``."""
    import uv

    script, pids = make_stuck_uv(tmp_path)
    monkeypatch.setattr(uv, "find_uv_bin", lambda: str(script))
    return pids
