"""The README's first command: `callbox serve --data <relative folder> --deploy examples/quickstart`
starts, prints the credentials and the example's URLs, and every printed URL answers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import Server, callbox_env, default_signals, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def test_serve_deploys_the_example_and_its_urls_answer(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callbox",
            "serve",
            "--data",
            ".callbox-data",
            "--port",
            str(port),
            "--deploy",
            str(EXAMPLE),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=callbox_env(),
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=default_signals,
    )
    server = Server(process, tmp_path, port)
    try:
        server.wait_for_line(r"^  ACCOUNT_SID=AC[0-9a-f]{32}$", timeout=30)
        server.wait_for_line(r"^  AUTH_TOKEN=[0-9a-f]{32}$")
        deployed = server.wait_for_line(r"^Deployed quickstart to ", timeout=60)
        domain = re.search(r"http://([^:/]+):", deployed).group(1)  # type: ignore[union-attr]
        server.wait_for_line(r"^  \[protected\] .*/sms/reply$")  # the summary's last line
        urls = server.lines_matching(r"^  \[public\] ")
        assert len(urls) >= 4, server.output()
        with httpx.Client(base_url=server.base_url, headers={"Host": f"{domain}:{port}"}) as env:
            for line in urls:
                path = line.split(f":{port}", 1)[1]
                assert env.get(path).status_code == 200, (path, server.output())
            assert env.get("/hello-world").text == "Hello World!"
            assert env.get("/greet", params={"name": "Ada"}).json() == {"message": "Hello, Ada!"}
        assert (tmp_path / ".callbox-data" / "secret.key").is_file()
    finally:
        problems = server.stop()
    assert not problems, problems
