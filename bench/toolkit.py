#!/usr/bin/env python3
"""callbox benchmark of ``callbox deploy``: prints figures, never asserts them.

One run starts ``callbox serve`` on a throw-away data folder and a project of 10 functions and
10 assets (no dependencies), then times, each as a real ``callbox deploy`` process:

1. a deploy of a new project (a new service, all 20 files uploaded) and a deploy with one file
   changed, each whose build serves a new marker: from the command's start to the first request
   answered by the new build (the command has exited by then: it activates before it ends);
2. a redeploy of the unchanged project (no upload: every version is reused by content hash),
   from the command's start to its exit;
3. for reference, the start-up of the deploy command (``callbox deploy --help``), which all
   include.

    .venv/bin/python bench/toolkit.py            # about 20 s
    .venv/bin/python bench/toolkit.py --quick    # about 8 s
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as base  # noqa: E402  (bench/run.py: processes, free ports, clean environments)

TARGET_DEPLOY_S = 1.5
TARGET_REDEPLOY_S = 0.5
SERVING_TIMEOUT_S = 30.0  # a deploy whose build never serves is a failure, not a figure
FUNCTIONS = 10
ASSETS = 10
say = base.say


def make_project(root: Path, marker: str) -> None:
    for index in range(FUNCTIONS):
        path = root / "functions" / f"f{index}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = f"def handler(context, event, callback):\n    callback(None, '{marker} {index}')\n"
        path.write_text(body)
    for index in range(ASSETS):
        path = root / "assets" / f"a{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"asset {index}\n" * 200)


def wait_for_body(port: int, path: str, host: str, expected: bytes) -> None:
    """Poll ``path`` on ``host`` until it answers 200 with ``expected`` (the new build)."""
    deadline = time.monotonic() + SERVING_TIMEOUT_S
    while True:
        status, body = base.http_get(port, path, host=host)
        if status == 200 and body == expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"http://{host}{path} did not serve {expected!r} within {SERVING_TIMEOUT_S:.0f} s "
                f"of the deploy (last answer: {status} {body[:200]!r})"
            )
        time.sleep(0.005)


def cli(python: str, args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [python, "-m", "callbox", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"callbox {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def ms(seconds: list[float]) -> list[float]:
    return [value * 1000 for value in seconds]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 runs per figure instead of 7")
    parser.add_argument("--python", default=sys.executable, help="interpreter with callbox")
    options = parser.parse_args()
    runs = 3 if options.quick else 7
    say(base.machine())
    say(base.git_state())
    workdir = Path(tempfile.mkdtemp(prefix="callbox-bench-toolkit-"))
    procs = base.Processes(workdir)
    try:
        return measure(options.python, runs, workdir, procs)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(python: str, runs: int, workdir: Path, procs: base.Processes) -> int:
    account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    port = base.free_port()
    serve = procs.launch(
        "callbox-serve",
        [python, "-m", "callbox", "serve", "--data", str(workdir / "data"), "--port", str(port)],
        base.clean_env(CALLBOX_ACCOUNT_SID=account, CALLBOX_AUTH_TOKEN=token),
    )
    base.wait_ready(procs, serve, port, "/health")
    env = base.clean_env(CALLBOX_CONFIG_DIR=str(workdir / "config"))
    auth = ["--url", f"http://127.0.0.1:{port}", "-u", account, "--password", token]
    project = workdir / "project"
    make_project(project, "first")
    summary = json.loads(cli(python, ["deploy", *auth, "-o", "json"], project, env))
    host = f"{summary['domain']}:{port}"
    say(f"\nProject: {FUNCTIONS} functions + {ASSETS} assets; environment {host}")

    startup = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cli(python, ["deploy", "--help"], project, env)
        startup.append(time.perf_counter() - t0)

    fresh = []
    for attempt in range(runs):
        folder = workdir / f"fresh{attempt}"
        make_project(folder, f"fresh{attempt}")
        t0 = time.perf_counter()
        done = json.loads(cli(python, ["deploy", *auth, "-o", "json"], folder, env))
        wait_for_body(port, "/f1", f"{done['domain']}:{port}", f"fresh{attempt} 1".encode())
        fresh.append(time.perf_counter() - t0)
        procs.check_alive()

    deploys = []
    for attempt in range(runs):
        marker = f"build{attempt}"
        (project / "functions" / "f0.py").write_text(
            f"def handler(context, event, callback):\n    callback(None, '{marker}')\n"
        )
        t0 = time.perf_counter()
        cli(python, ["deploy", *auth, "-o", "json"], project, env)
        wait_for_body(port, "/f0", host, marker.encode())
        deploys.append(time.perf_counter() - t0)
        procs.check_alive()

    redeploys = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cli(python, ["deploy", *auth, "-l", "info"], project, env)
        redeploys.append(time.perf_counter() - t0)
    text = cli(python, ["deploy", *auth, "-l", "info"], project, env)
    assert "Deployment Details" in text

    fresh_median = statistics.median(fresh)
    deploy_median = statistics.median(deploys)
    redeploy_median = statistics.median(redeploys)
    say(f"\n== {runs} runs each ==")
    say(f"  CLI start-up (callbox deploy --help)  {base.med_max(ms(startup))}")
    say(f"  new project, 20 uploads -> serving    {base.med_max(ms(fresh))}")
    say(f"  deploy, 1 file changed -> serving     {base.med_max(ms(deploys))}")
    say(f"  redeploy, nothing changed             {base.med_max(ms(redeploys))}")
    say("\n== summary ==")
    say(
        f"  new project to serving <= {TARGET_DEPLOY_S} s: {fresh_median:.2f} s   "
        f"{base.verdict(fresh_median <= TARGET_DEPLOY_S)}"
    )
    say(
        f"  changed project to serving <= {TARGET_DEPLOY_S} s: {deploy_median:.2f} s   "
        f"{base.verdict(deploy_median <= TARGET_DEPLOY_S)}"
    )
    say(
        f"  unchanged redeploy <= {TARGET_REDEPLOY_S} s: {redeploy_median:.2f} s   "
        f"{base.verdict(redeploy_median <= TARGET_REDEPLOY_S)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
