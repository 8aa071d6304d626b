"""HAProxy (Debian's package) in front of test nodes, configured by ``docs/haproxy.cfg`` itself:
only its ``bind`` line and its ``server`` lines are replaced, so the file the docs give is the
one the tests and the benchmark run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "haproxy.cfg"


def binary() -> str | None:
    # Debian installs it in /usr/sbin, which a non-root PATH may lack.
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def available() -> bool:
    return binary() is not None


def configuration(port: int, nodes: list[int]) -> str:
    """docs/haproxy.cfg listening on 127.0.0.1:``port``, balancing the local ``nodes`` ports."""
    text = EXAMPLE.read_text()
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
        config.write_text(configuration(port, nodes))
        self.process = subprocess.Popen(
            [binary() or "haproxy", "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> str:
        """Stop it; returns what it printed."""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""
