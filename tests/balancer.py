"""HAProxy (Debian's package) in front of test nodes, configured by ``docs/haproxy.cfg`` itself:
only its ``bind`` line and its ``server`` lines are replaced, so the file the docs give is the
one the tests and the benchmark run."""

from __future__ import annotations

import csv
import re
import shutil
import socket
import subprocess
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "haproxy.cfg"


def binary() -> str | None:
    # Debian installs it in /usr/sbin, which a non-root PATH may lack.
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def available() -> bool:
    return binary() is not None


def configuration(port: int, nodes: list[int], stats: Path | None = None) -> str:
    """docs/haproxy.cfg listening on 127.0.0.1:``port``, balancing the local ``nodes`` ports
    (with ``stats``, also a stats socket there, so tests can see each server's state)."""
    text = EXAMPLE.read_text()
    if stats is not None:
        text = text.replace("global\n", f"global\n  stats socket {stats}\n", 1)
    text, binds = re.subn(r"(?m)^  bind :80$", f"  bind 127.0.0.1:{port}", text)
    servers = "\n".join(
        f"  server node{i} 127.0.0.1:{node} check" for i, node in enumerate(nodes, 1)
    )
    text, blocks = re.subn(r"(?m)(^  server node\d+ \S+ check\n?)+", servers + "\n", text)
    if binds != 1 or blocks != 2:
        raise ValueError(f"{EXAMPLE} no longer has one `bind :80` and two blocks of servers")
    return text


class Balancer:
    """A running HAProxy; ``url`` is where it listens."""

    def __init__(self, folder: Path, port: int, nodes: list[int]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = folder / "haproxy.cfg"
        self.stats = folder / "stats.sock"
        config.write_text(configuration(port, nodes, self.stats))
        self.process = subprocess.Popen(
            [binary() or "haproxy", "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def states(self, backend: str = "ready") -> dict[str, str]:
        """Each server of ``backend`` and its state as HAProxy sees it ("UP", "DOWN", ...)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        rows = csv.reader(b"".join(chunks).decode().lstrip("# ").splitlines())
        header = next(rows)
        name, server, status = (header.index(k) for k in ("pxname", "svname", "status"))
        return {
            row[server]: row[status].split()[0]
            for row in rows
            if len(row) > status and row[name] == backend and row[server].startswith("node")
        }

    def stop(self) -> str:
        """Stop it; returns what it printed."""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""
