"""`callbox start` with Twilio's shared flags and the config file (spec 7.2-7.4, case 71)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WARN = (
    "import sys\n"
    "def handler(context, event, callback):\n"
    "    print('an info line')\n"
    "    print('a warning line', file=sys.stderr)\n"
    "    callback(None, 'ok')\n"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_config_chooses_folders_and_env_file(servers: Any, tmp_path: Path) -> None:
    root = write(
        tmp_path / "configured",
        {
            "lambdas/hi.py": "def handler(context, event, callback):\n"
            "    callback(None, getattr(context, 'WHO', 'nobody'))\n",
            ".env.local": "WHO=config\n",
            ".twilioserverlessrc": '{ commands: { start: { functionsFolder: "lambdas",'
            ' env: ".env.local" } } }',
        },
    )
    server = servers.start(root)
    assert server.client.get("/hi").text == "config"


def test_cwd_beats_the_directory_argument(servers: Any, tmp_path: Path) -> None:
    chosen = write(
        tmp_path / "chosen",
        {"functions/which.py": "def handler(c, e, cb):\n    cb(None, 'chosen')\n"},
    )
    other = write(
        tmp_path / "other",
        {"functions/which.py": "def handler(c, e, cb):\n    cb(None, 'other')\n"},
    )
    server = servers.start(other, args=["--cwd", str(chosen)])
    assert server.client.get("/which").text == "chosen"


def test_log_level_and_no_logs(servers: Any, tmp_path: Path) -> None:
    root = write(tmp_path / "quiet", {"functions/talk.py": WARN})
    server = servers.start(root, args=["-l", "warn", "--no-logs"])
    mark = server.mark()
    assert server.client.get("/talk").text == "ok"
    # An invocation's lines are printed together, so once the warning is out the info line
    # would be too.
    server.wait_for_line("a warning line", since=mark)
    assert not server.lines_matching("an info line", since=mark)
    assert not server.lines_matching("GET /talk", since=mark)


def test_a_bad_config_value_is_one_line(callbox_cli: Any, tmp_path: Path) -> None:
    root = write(
        tmp_path / "bad",
        {"functions/a.py": WARN, ".twilioserverlessrc": '{ "port": "not-a-port" }'},
    )
    result = callbox_cli(["start", str(root)], cwd=root, timeout=30)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert '"port" is' in line and ".twilioserverlessrc" in line
