"""callbox serve: the server of a data folder, started from the command line."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from callbox.toolkit.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = run("serve", "--data", str(tmp_path), "--port", str(port))
    assert code != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in out
