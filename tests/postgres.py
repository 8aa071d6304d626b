"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, started on a
free port and a private socket folder, stopped and removed at the end. Each test gets a
database of its own (``Cluster.database()``).

``CALLBOX_TEST_DATABASE=postgresql`` makes the ``store`` fixture and the end-to-end servers use
it; ``scripts/test`` runs the API, store, log and deployment tests that way too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

# Debian puts the server programs outside PATH.
_SEARCH = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"]


def binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SEARCH:
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def wanted() -> bool:
    return os.environ.get("CALLBOX_TEST_DATABASE", "").lower() in ("postgresql", "postgres")


class Cluster:
    """One running PostgreSQL server owned by the test session."""

    def __init__(self) -> None:
        initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="callbox-pg-"))
        # initdb refuses to run as root: the cluster belongs to the postgres user when there is
        # one (Debian's package makes it), else to whoever runs the tests.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.data = self.folder / "data"
        self.port = _free_port()
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "callbox", "--no-sync"])
        self.options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self.resume()
        self._count = 0

    def resume(self) -> None:
        """Start the server (again, after ``halt``) on the same port and data."""
        log = str(self.folder / "log")
        command = [self.pg_ctl, "-D", str(self.data), "-o", self.options, "-l", log, "-w", "start"]
        self._run(command)

    def halt(self) -> None:
        """Stop the server at once, as a crash would (``-m immediate``), keeping its data."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def checkpoint(self) -> None:
        """Write every commit so far to disk. The server commits asynchronously
        (``synchronous_commit=off``), so ``halt`` loses the last few hundred milliseconds of
        commits; a test that halts right after writing (a schema just migrated) calls this
        first."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="callbox", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute("CHECKPOINT")

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True, user=self.user, cwd=self.folder)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://callbox@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="callbox", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
