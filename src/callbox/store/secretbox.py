"""Secrets at rest: auth tokens, API key secrets and variable values are stored encrypted.

The key is a Fernet key (AES-128-CBC + HMAC-SHA256) kept outside the database: the file
``<data>/secret.key`` (created on first start, readable by its owner only), or the variable
``CALLBOX_SECRET_KEY``. A copy of the database alone reveals no secret.
"""

from __future__ import annotations

import os
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
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
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
