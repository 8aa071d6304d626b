"""Live reload: an edit, a new file or a deleted one takes effect on the very next request.

No test sleeps between writing a file and requesting it: the next request must see the change.
Every test gets its own server: reload state never leaks from one test to the next.
"""

from __future__ import annotations

import socket
import time

import pytest

SCENARIO = "reload"


@pytest.fixture
def server(servers):
    return servers.start(SCENARIO)


def function_source(answer):
    return f'def handler(context, event, callback):\n    callback(None, "{answer}")\n'


def test_many_reloads_keep_the_server_alive(server):
    target = server.root / "functions" / "answer.py"
    for index in range(1, 201):
        answer = "x" * index  # a new length each time: bytecode caching cannot interfere
        target.write_text(function_source(answer))
        response = server.client.get("/answer")
        assert response.status_code == 200
        assert response.text == answer, f"edit {index} not seen"
    assert server.process.poll() is None


def test_edit_applies_on_the_next_request(server):
    target = server.root / "functions" / "answer.py"
    assert server.client.get("/answer").text == "answer-00"
    target.write_text(function_source("edited-one"))
    response = server.client.get("/answer")
    assert response.status_code == 200
    assert response.text == "edited-one"


def test_edits_of_different_lengths_each_apply_at_once(server):
    target = server.root / "functions" / "answer.py"
    for index in range(1, 5):
        answer = "x" * index
        target.write_text(function_source(answer))
        response = server.client.get("/answer")
        assert response.status_code == 200
        assert response.text == answer, f"edit {index} not seen"


def test_same_length_edits_each_apply_at_once(server):
    target = server.root / "functions" / "answer.py"
    for index in range(10, 20):
        answer = f"answer-{index}"  # every version has the same length
        target.write_text(function_source(answer))
        response = server.client.get("/answer")
        assert response.status_code == 200
        assert response.text == answer, f"edit {index} not seen"


def test_new_function_is_served_on_the_next_request(server):
    assert server.client.get("/brand-new").status_code == 404
    (server.root / "functions" / "brand-new.py").write_text(function_source("fresh"))
    response = server.client.get("/brand-new")
    assert response.status_code == 200
    assert response.text == "fresh"


def test_new_function_in_a_new_folder_is_served(server):
    folder = server.root / "functions" / "deep" / "er"
    folder.mkdir(parents=True)
    (folder / "nested.py").write_text(function_source("nested"))
    response = server.client.get("/deep/er/nested")
    assert response.status_code == 200
    assert response.text == "nested"


def test_deleted_function_is_404_on_the_next_request(server):
    target = server.root / "functions" / "answer.py"
    assert server.client.get("/answer").text == "answer-00"
    target.unlink()
    response = server.client.get("/answer")
    assert response.status_code == 404
    assert response.json()["message"] == "The requested resource /answer was not found"


def test_broken_edit_then_fix(server):
    target = server.root / "functions" / "answer.py"
    target.write_text("def handler(context, event, callback)\n    pass\n")
    broken = server.client.get("/answer")
    assert broken.status_code == 500
    assert "SyntaxError" in broken.json()["message"]
    target.write_text(function_source("fixed again"))
    response = server.client.get("/answer")
    assert response.status_code == 200
    assert response.text == "fixed again"


def test_new_edited_and_deleted_assets(server):
    assets = server.root / "assets"
    assert server.client.get("/existing.txt").text == "an asset that exists from the start\n"
    asset = assets / "note.txt"
    asset.write_text("first version\n")
    assert server.client.get("/note.txt").text == "first version\n"
    asset.write_text("second version, longer\n")
    assert server.client.get("/note.txt").text == "second version, longer\n"
    asset.unlink()
    assert server.client.get("/note.txt").status_code == 404


def test_assets_folder_created_after_start_is_served(servers):
    project = servers.copy(SCENARIO)
    (project / "assets" / "existing.txt").unlink()
    (project / "assets").rmdir()
    server = servers.start(project)
    (project / "assets").mkdir()
    (project / "assets" / "note.txt").write_text("late asset\n")
    response = server.client.get("/note.txt")
    assert response.status_code == 200
    assert response.text == "late asset\n"


def test_env_edit_applies_on_the_next_request(server):
    (server.root / "functions" / "env-value.py").write_text(
        'def handler(context, event, callback):\n    callback(None, context.get("COLOR", "-"))\n'
    )
    env = server.root / ".env"
    env.write_text("COLOR=red\n")
    assert server.client.get("/env-value").text == "red"
    env.write_text("COLOR=green\n")
    response = server.client.get("/env-value")
    assert response.status_code == 200
    assert response.text == "green"


ENV_VALUE = (
    'def handler(context, event, callback):\n    callback(None, context.get("COLOR", "-"))\n'
)


def test_env_that_is_not_utf8_is_a_500_until_fixed(server):
    (server.root / "functions" / "env-value.py").write_text(ENV_VALUE)
    env = server.root / ".env"
    env.write_text("COLOR=red\n")
    assert server.client.get("/env-value").text == "red"
    env.write_bytes(b"COLOR=r\xe9d\n")  # Latin-1, not UTF-8
    for _ in range(2):  # the project stays unservable, not just the first request
        response = server.client.get("/env-value")
        assert response.status_code == 500, response.text
        message = response.json()["message"]
        assert message.startswith("The project cannot be served: ")
        assert str(env) in message
        assert "not valid UTF-8" in message
    env.write_text("COLOR=blue\n")
    response = server.client.get("/env-value")
    assert response.status_code == 200, response.text
    assert response.text == "blue"


def test_duplicate_path_while_running_is_reported_then_recovers(server):
    functions = server.root / "functions"
    duplicate = functions / "answer.protected.py"
    duplicate.write_text(function_source("other twin"))
    response = server.client.get("/answer")
    assert response.status_code == 500
    message = response.json()["message"]
    assert "Duplicate" in message
    assert "/answer" in message
    duplicate.unlink()
    response = server.client.get("/answer")
    assert response.status_code == 200
    assert response.text == "answer-00"


# -- a request that straddles a reload --------------------------------------------------------


def start_slow_post(server, path, body):
    """Send a POST's headers and half its body; returns the socket and the rest of the body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    half = len(body) // 2
    sock.sendall(head.encode() + body[:half])
    return sock, body[half:]


def finish_slow_post(sock, rest):
    """Send the rest of the body; returns (status, body) of the answer."""
    with sock:
        sock.sendall(rest)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_request_straddling_a_reload_is_served_by_the_old_build_without_leaking(servers, e2e):
    # Functions are read from disk by whichever build runs them; the build's own part is its
    # variables, so the .env is what changes here.
    project = servers.copy(SCENARIO)
    (project / "functions" / "env-value.py").write_text(ENV_VALUE)
    env = project / ".env"
    env.write_text("COLOR=color-0\n")
    server = servers.start(project, env={"CALLBOX_MAX_WORKERS": "1"})
    assert server.client.get("/env-value").text == "color-0"
    for race in range(1, 4):
        sock, rest = start_slow_post(server, "/env-value", b"0123456789")
        time.sleep(0.2)  # the server has routed it to the current build and waits for its body
        env.write_text(f"COLOR=color-{race}\n")
        assert server.client.get("/env-value").text == f"color-{race}"  # reloads meanwhile
        assert finish_slow_post(sock, rest) == (200, f"color-{race - 1}".encode())
    for index in range(3):  # later reloads drain every build they replace
        env.write_text(f"COLOR=later-{index}\n")
        assert server.client.get("/env-value").text == f"later-{index}"
    assert e2e.wait_until(lambda: len(server.worker_pids()) == 1, timeout=5), (
        f"worker processes after 3 straggling requests and 6 reloads: {server.worker_pids()}"
    )
