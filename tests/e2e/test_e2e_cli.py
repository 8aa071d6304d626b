"""The command line as a user meets it: `callbox init` then `callbox start`, bad input, Ctrl+C."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from conftest import session_members as e2e_session_members


def one_readable_line(result):
    """The error output of a failed command: exactly one line, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- init then start -----------------------------------------------------------------------


def test_init_then_start_serves_the_scaffold(servers, callbox_cli, tmp_path):
    result = callbox_cli(["init", "my-project", "--path", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert f"Created {tmp_path / 'my-project'}" in result.stdout
    server = servers.start(tmp_path / "my-project")

    hello = server.client.get("/hello-world")
    assert hello.status_code == 200
    assert hello.text == "Hello World!"

    greet = server.client.get("/greet", params={"name": "Ada"})
    assert greet.status_code == 200
    assert greet.json() == {"message": "Hello, Ada!"}

    data = server.client.get("/data")
    assert data.status_code == 200
    assert data.json()["office_hours"][0] == {"day": "Monday", "open": "09:00", "close": "17:00"}

    index = server.client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "Your callbox project is running" in index.text

    style = server.client.get("/assets/style.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")

    reply = server.client.post("/sms/reply", data={"Body": "hi"})
    assert reply.status_code == 403
    assert "Signature is missing or is invalid" in reply.json()["message"]

    assert server.client.get("/lib/greeting").status_code == 404
    assert server.client.get("/data.json").status_code == 404


def test_start_lists_every_url_with_its_visibility(servers, callbox_cli, tmp_path):
    assert callbox_cli(["init", "listed", "--path", str(tmp_path)]).returncode == 0
    server = servers.start(tmp_path / "listed")
    base = f"http://localhost:{server.port}"
    output = [line.strip() for line in server.stdout_lines()]
    for expected in (
        f"[public]    {base}/hello-world",
        f"[public]    {base}/greet",
        f"[public]    {base}/data",
        f"[protected] {base}/sms/reply",
        f"[public]    {base}/assets/index.html",
        f"[public]    {base}/assets/style.css",
    ):
        assert expected in output, f"{expected!r} missing from:\n{server.output()}"
    assert any(line.startswith("[private]   /lib/greeting") for line in output)
    assert any(line.startswith("[private]   /data.json") for line in output)
    assert any("No AUTH_TOKEN is set" in line for line in output)


def test_init_refuses_a_non_empty_folder(callbox_cli, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("mine")
    result = callbox_cli(["init", "taken", "--path", str(tmp_path)])
    assert result.returncode != 0
    assert "not empty" in one_readable_line(result)
    assert (tmp_path / "taken" / "file.txt").read_text() == "mine"


# -- bad input to start --------------------------------------------------------------------


def test_start_on_a_missing_folder_is_one_readable_line(callbox_cli, e2e, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    result = callbox_cli(["start", str(missing), "--port", str(e2e.free_port())], timeout=30)
    assert result.returncode != 0
    line = one_readable_line(result)
    assert str(missing) in line
    assert "not a folder" in line


def test_start_with_a_missing_env_file_is_one_readable_line(servers, callbox_cli, e2e, tmp_path):
    project = servers.copy("contract")
    missing = tmp_path / "missing.env"
    result = callbox_cli(
        ["start", str(project), "--port", str(e2e.free_port()), "--env", str(missing)],
        timeout=30,
    )
    assert result.returncode != 0
    line = one_readable_line(result)
    assert str(missing) in line
    assert ".env" in line


def test_start_with_an_env_file_that_is_not_utf8_is_one_readable_line(servers, callbox_cli, e2e):
    project = servers.copy("contract")
    (project / ".env").write_bytes(b"GREETING=Bonjour\nCITY=Z\xfcrich\n")
    result = callbox_cli(["start", str(project), "--port", str(e2e.free_port())], timeout=30)
    assert result.returncode != 0
    line = one_readable_line(result)
    assert str(project / ".env") in line
    assert "not valid UTF-8" in line


def test_start_with_a_duplicate_path_names_both_files(servers, callbox_cli, e2e):
    project = servers.copy("duplicate")
    result = callbox_cli(["start", str(project), "--port", str(e2e.free_port())], timeout=30)
    assert result.returncode != 0
    line = one_readable_line(result)
    assert "Duplicate" in line
    assert "/same" in line
    assert "same.py" in line
    assert "same.protected.py" in line


def test_start_on_a_busy_port_fails_clearly(servers, callbox_cli):
    server = servers.start("reload")
    result = callbox_cli(["start", str(server.root), "--port", str(server.port)], timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Error: Cannot listen on 127.0.0.1:{server.port}: Address already in use. "
        "Choose another port with --port."
    ]
    assert server.client.get("/answer").status_code == 200


# -- stopping ------------------------------------------------------------------------------


def test_sigterm_stops_the_server_and_its_workers(servers, e2e):
    server = servers.start("execution")
    assert server.client.get("/ok").status_code == 200
    session = server.process.pid
    assert len(e2e.session_members(session)) >= 3  # the server, its zygote and a worker
    server.send_stop(signal.SIGTERM)
    assert e2e.wait_until(lambda: not e2e.session_members(session), timeout=5)
    assert not [line for line in server.stderr_lines() if "Traceback" in line], server.output()


def test_ctrl_c_stops_the_server_and_its_workers(servers, e2e):
    """Ctrl+C in a terminal sends SIGINT to the whole foreground process group."""
    server = servers.start("execution")
    assert server.client.get("/ok").status_code == 200
    session = server.process.pid
    server.send_stop(signal.SIGINT, whole_group=True)
    assert e2e.wait_until(lambda: not e2e.session_members(session), timeout=5)


def zygote_ignores_sigint(server) -> bool:
    """Whether the server's worker parent runs and has set SIGINT aside (its /proc SigIgn)."""
    for pid in e2e_session_members(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"callbox.worker.zygote" in cmdline:
            ignored = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
            return bool(int(ignored.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.parametrize("command", ["start", "serve"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("whole_group", [True, False])
def test_a_stop_signal_stops_quietly_with_the_conventional_status(
    servers, e2e, command, sig, whole_group
):
    # From issue 13: Ctrl+C printed "Aborted." and exited 1; SIGTERM to the process group
    # printed "worker parent process exited; it will be started again".
    server = servers.start("execution") if command == "start" else servers.serve()
    if command == "start":
        assert server.client.get("/ok").status_code == 200
    else:
        assert server.client.get("/health").status_code == 200
    # `serve` starts its worker parent without waiting for it; a signal sent to the group while
    # that interpreter is still starting kills it noisily (a launcher matter, not this test's).
    assert e2e.wait_until(lambda: zygote_ignores_sigint(server), timeout=10), server.output()
    status = server.send_stop(sig, whole_group=whole_group)
    # Ended by the signal, as a program without handlers would be (a shell shows 128 + N).
    assert status == -sig, server.output()
    landlock = "Warning: this kernel has no Landlock"  # said at start on older kernels
    assert [line for line in server.stderr_lines() if not line.startswith(landlock)] == [], (
        server.output()
    )
    assert not [line for line in server.stdout_lines() if "worker parent process" in line]


def test_ctrl_c_reaches_the_server_when_the_tests_run_as_a_background_job(servers):
    # Issue 13: a test run started with `&` inherits SIGINT ignored, and so did every command
    # it started; tests that send Ctrl+C then failed. The fixtures restore the disposition.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as bash gives a background job
    try:
        server = servers.start("execution")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert server.client.get("/ok").status_code == 200
    assert server.send_stop(signal.SIGINT) == -signal.SIGINT, server.output()
