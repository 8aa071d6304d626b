"""Secrets at rest: auth tokens, API key secrets and variable values are stored encrypted.

The key is a Fernet key (AES-128-CBC + HMAC-SHA256) kept outside the database: the file
``<data>/secret.key`` (created on first start, readable by its owner only), or the variable
``CALLBOX_SECRET_KEY``. A copy of the database alone reveals no secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_file(cls, path: Path, override: str = "") -> SecretBox:
        """Use ``override`` when given; else read ``path``, creating it (mode 600) if missing."""
        if override:
            return cls(override.encode())
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _create(path, Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise ValueError(
                "A stored secret cannot be decrypted: the secret key is not the one it was "
                "sealed with (check CALLBOX_SECRET_KEY or <data>/secret.key)."
            ) from None


def _create(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` unless it exists. Written aside, then linked into place: of
    processes opening one new data folder together the first link wins, and none reads half a
    key or fails because another made the file first."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # made by another process at the same moment: that key is the one
        except OSError:  # a file system without hard links: create it in place
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(key)
    finally:
        aside.unlink(missing_ok=True)
