"""`callbox assets init | upload | list` (Twilio's Assets Plugin) against a real `callbox serve`.

Each test has its own config folder, so its own stored assets service.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator

MP3 = b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 4


def run(toolkit: Any, tmp_path: Path, *args: str, ok: bool = True) -> Any:
    """``callbox assets ARGS`` with this test's config folder; asserts the exit code."""
    env = {"CALLBOX_CONFIG_DIR": str(tmp_path / "config"), "COLUMNS": "250"}
    result = toolkit.run("assets", *args, cwd=tmp_path, env=env)
    assert (result.exit_code == 0) == ok, result.output
    return result


def init(toolkit: Any, tmp_path: Path, *args: str) -> dict[str, Any]:
    return dict(json.loads(run(toolkit, tmp_path, "init", "-o", "json", *args).stdout))


def upload(toolkit: Any, tmp_path: Path, name: str, content: bytes, *args: str) -> dict[str, Any]:
    (tmp_path / name).write_bytes(content)
    return dict(json.loads(run(toolkit, tmp_path, "upload", name, "-o", "json", *args).stdout))


def listing(toolkit: Any, tmp_path: Path) -> dict[str, dict[str, Any]]:
    entries = json.loads(run(toolkit, tmp_path, "list", "-o", "json").stdout)
    return {entry["path"]: entry for entry in entries}


def fetch(toolkit: Any, domain: str, path: str, **kwargs: Any) -> Any:
    with toolkit.server.environment(domain) as client:
        return client.get(path, **kwargs)


def stored(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "config" / "assets.json").read_text()))


def one_error_line(result: Any) -> str:
    """The error: one line, last on stderr (after any progress lines), no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    return str(errors[0])


# -- init ------------------------------------------------------------------------------------


def test_init_creates_a_randomly_named_service_with_production_and_stores_it_0600(
    toolkit: Any, tmp_path: Path
) -> None:
    bucket = init(toolkit, tmp_path)
    assert re.fullmatch(r"assets-[a-z0-9]{5}", bucket["serviceName"])
    environment = toolkit.server.client.get(
        f"/v1/Services/{bucket['serviceSid']}/Environments/{bucket['environmentSid']}"
    ).json()
    assert environment["unique_name"] == "production" and not environment["domain_suffix"]
    assert bucket["domain"] == environment["domain_name"]
    assert bucket["url"] == f"http://{environment['domain_name']}:{toolkit.server.port}"
    path = tmp_path / "config" / "assets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = f"{toolkit.server.base_url}|{toolkit.server.account_sid}"
    assert stored(tmp_path) == {
        key: {
            "serviceSid": bucket["serviceSid"],
            "environmentSid": bucket["environmentSid"],
            "domain": bucket["domain"],
        }
    }


def test_init_again_shows_the_stored_service_and_force_makes_a_new_one(
    toolkit: Any, tmp_path: Path
) -> None:
    first = init(toolkit, tmp_path, "--service-name", "bucket-again")
    assert first["serviceName"] == "bucket-again"
    result = run(toolkit, tmp_path, "init")
    assert "already set up" in result.stderr
    assert "bucket-again" in result.stdout and first["serviceSid"] in result.stdout
    assert init(toolkit, tmp_path, "--service-name", "bucket-again") == first

    refused = run(toolkit, tmp_path, "init", "--service-name", "bucket-other", ok=False)
    assert "--force" in one_error_line(refused) and "bucket-again" in refused.stderr

    second = init(toolkit, tmp_path, "--service-name", "bucket-other", "--force")
    assert second["serviceName"] == "bucket-other"
    assert second["serviceSid"] != first["serviceSid"]
    (entry,) = stored(tmp_path).values()
    assert entry["serviceSid"] == second["serviceSid"]
    # The old service stays on the server.
    assert toolkit.server.client.get(f"/v1/Services/{first['serviceSid']}").status_code == 200


def test_init_refuses_invalid_and_taken_names(toolkit: Any, tmp_path: Path) -> None:
    for name in ("bad_name", "-dash-first", "two--dashes", "x" * 50, "sp ace"):
        result = run(toolkit, tmp_path, "init", "--service-name", name, ok=False)
        assert "is not a valid service name" in one_error_line(result), name
    assert not (tmp_path / "config" / "assets.json").exists()
    assert init(toolkit, tmp_path, "--service-name", "x" * 49)["serviceName"] == "x" * 49

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    taken = run(toolkit, elsewhere, "init", "--service-name", "x" * 49, ok=False)
    assert "already exists" in one_error_line(taken)


# -- upload ----------------------------------------------------------------------------------


def test_upload_serves_the_bytes_keeps_other_assets_and_replaces_the_same_path(
    toolkit: Any, tmp_path: Path
) -> None:
    bucket = init(toolkit, tmp_path)
    (tmp_path / "hold.mp3").write_bytes(MP3)
    result = run(toolkit, tmp_path, "upload", "hold.mp3")
    url = f"http://{bucket['domain']}:{toolkit.server.port}/hold.mp3"
    assert result.stdout.strip() == url
    response = fetch(toolkit, bucket["domain"], "/hold.mp3")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content == MP3

    logo = upload(toolkit, tmp_path, "logo.png", b"\x89PNG fake")
    assert logo["path"] == "/logo.png" and logo["visibility"] == "public"
    assert logo["serviceSid"] == bucket["serviceSid"] and logo["buildSid"].startswith("ZB")
    assert fetch(toolkit, bucket["domain"], "/hold.mp3").content == MP3
    png = fetch(toolkit, bucket["domain"], "/logo.png")
    assert (png.content, png.headers["content-type"]) == (b"\x89PNG fake", "image/png")

    again = upload(toolkit, tmp_path, "hold.mp3", b"ID3 new take")
    assert fetch(toolkit, bucket["domain"], "/hold.mp3").content == b"ID3 new take"
    assets = listing(toolkit, tmp_path)
    assert sorted(assets) == ["/hold.mp3", "/logo.png"]
    assert assets["/hold.mp3"]["sid"] == again["sid"]
    # The same Asset resource got a second version.
    resources = toolkit.server.client.get(f"/v1/Services/{bucket['serviceSid']}/Assets").json()
    assert sorted(a["friendly_name"] for a in resources["assets"]) == ["/hold.mp3", "/logo.png"]


def test_upload_with_a_custom_path(toolkit: Any, tmp_path: Path) -> None:
    bucket = init(toolkit, tmp_path)
    (tmp_path / "take1.mp3").write_bytes(MP3)
    result = run(toolkit, tmp_path, "upload", "take1.mp3", "--path", "audio/hold.mp3")
    assert result.stdout.strip().endswith(":" + str(toolkit.server.port) + "/audio/hold.mp3")
    assert fetch(toolkit, bucket["domain"], "/audio/hold.mp3").content == MP3
    assert fetch(toolkit, bucket["domain"], "/take1.mp3").status_code == 404


def test_protected_asset_needs_a_twilio_signature(toolkit: Any, tmp_path: Path) -> None:
    bucket = init(toolkit, tmp_path)
    (tmp_path / "secret.txt").write_text("for Twilio only")
    result = run(toolkit, tmp_path, "upload", "secret.txt", "--protected")
    assert "signed by Twilio" in result.stderr
    assert fetch(toolkit, bucket["domain"], "/secret.txt").status_code == 403
    url = f"http://{bucket['domain']}:{toolkit.server.port}/secret.txt"
    assert result.stdout.strip() == url
    for token, expected in ((toolkit.server.auth_token, 200), ("not-the-token", 403)):
        headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, {})}
        signed = fetch(toolkit, bucket["domain"], "/secret.txt", headers=headers)
        assert signed.status_code == expected
        assert (signed.text == "for Twilio only") == (expected == 200)
    assert listing(toolkit, tmp_path)["/secret.txt"]["visibility"] == "protected"


def test_private_asset_is_not_served_but_listed(toolkit: Any, tmp_path: Path) -> None:
    bucket = init(toolkit, tmp_path)
    (tmp_path / "keys.json").write_text('{"key": 1}')
    result = run(toolkit, tmp_path, "upload", "keys.json", "--private")
    assert result.stdout.strip() == 'Runtime.get_assets()["/keys.json"]'
    assert "no URL" in result.stderr
    assert fetch(toolkit, bucket["domain"], "/keys.json").status_code == 404
    entry = listing(toolkit, tmp_path)["/keys.json"]
    assert entry["visibility"] == "private"
    assert entry["url"] == 'Runtime.get_assets()["/keys.json"]'

    both = run(toolkit, tmp_path, "upload", "keys.json", "--private", "--protected", ok=False)
    assert "Choose one of --protected and --private" in one_error_line(both)


def test_upload_too_large_is_the_servers_one_line(toolkit: Any, tmp_path: Path) -> None:
    init(toolkit, tmp_path)
    (tmp_path / "big.bin").write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    result = run(toolkit, tmp_path, "upload", "big.bin", "--private", ok=False)
    line = one_error_line(result)
    assert "Cannot upload big.bin as /big.bin" in line and "10 MB" in line
    assert listing(toolkit, tmp_path) == {}


def test_upload_of_a_missing_file_or_a_folder(toolkit: Any, tmp_path: Path) -> None:
    init(toolkit, tmp_path)
    missing = run(toolkit, tmp_path, "upload", "nope.mp3", ok=False)
    assert "Cannot upload nope.mp3: no such file" in one_error_line(missing)
    (tmp_path / "folder").mkdir()
    folder = run(toolkit, tmp_path, "upload", "folder", ok=False)
    assert "it is a folder" in one_error_line(folder)


# -- list ------------------------------------------------------------------------------------


def test_list_columns_properties_and_json(toolkit: Any, tmp_path: Path) -> None:
    bucket = init(toolkit, tmp_path)
    empty = run(toolkit, tmp_path, "list")
    assert empty.stdout == "" and "No assets are live yet" in empty.stderr
    assert json.loads(run(toolkit, tmp_path, "list", "-o", "json").stdout) == []

    public = upload(toolkit, tmp_path, "a.txt", b"a")
    upload(toolkit, tmp_path, "b.txt", b"b", "--private")
    table = run(toolkit, tmp_path, "list").stdout.splitlines()
    assert table[0].split() == ["SID", "PATH", "URL", "VISIBILITY"]
    assert public["sid"] in table[1] and public["url"] in table[1] and "public" in table[1]
    assert "/b.txt" in table[2] and "private" in table[2]

    chosen = run(toolkit, tmp_path, "list", "--properties", "sid, url,date_created").stdout
    header = chosen.splitlines()[0]
    assert header.split() == ["SID", "URL", "DATE", "CREATED"]
    assert "VISIBILITY" not in chosen and re.search(r"\d{4}-\d\d-\d\dT", chosen)

    entries = json.loads(run(toolkit, tmp_path, "list", "-o", "json").stdout)
    assert [e["path"] for e in entries] == ["/a.txt", "/b.txt"]
    assert set(entries[0]) >= {"sid", "path", "url", "visibility", "date_created", "asset_sid"}
    assert entries[0]["service_sid"] == bucket["serviceSid"]

    wrong = run(toolkit, tmp_path, "list", "--properties", "sid,colour", ok=False)
    assert "Unknown property colour" in one_error_line(wrong)


# -- before init, and after the service is gone ------------------------------------------------


def test_upload_and_list_before_init_say_to_run_init(toolkit: Any, tmp_path: Path) -> None:
    (tmp_path / "hold.mp3").write_bytes(MP3)
    for args in (("upload", "hold.mp3"), ("list",)):
        result = run(toolkit, tmp_path, *args, ok=False)
        assert "run `callbox assets init` first" in one_error_line(result)


def test_before_init_in_a_real_process(toolkit: Any, tmp_path: Path) -> None:
    (tmp_path / "hold.mp3").write_bytes(MP3)
    env = {"CALLBOX_CONFIG_DIR": str(tmp_path / "config")}
    result = toolkit.run_process("assets", "upload", "hold.mp3", cwd=tmp_path, env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: No assets service is set up")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_deleted_service_asks_for_init_again(toolkit: Any, tmp_path: Path) -> None:
    bucket = init(toolkit, tmp_path)
    upload(toolkit, tmp_path, "a.txt", b"a")
    deleted = toolkit.server.client.delete(f"/v1/Services/{bucket['serviceSid']}")
    assert deleted.status_code == 204
    for args in (("upload", "a.txt"), ("list",)):
        line = one_error_line(run(toolkit, tmp_path, *args, ok=False))
        assert bucket["serviceSid"] in line and "no longer exists" in line
        assert "run `callbox assets init`" in line
    result = run(toolkit, tmp_path, "init")
    assert "no longer exists" in result.stderr
    (entry,) = stored(tmp_path).values()
    assert entry["serviceSid"] != bucket["serviceSid"]
    assert upload(toolkit, tmp_path, "a.txt", b"again")["serviceSid"] == entry["serviceSid"]


def test_an_api_key_of_a_new_account_shares_the_accounts_bucket(
    toolkit: Any, tmp_path: Path
) -> None:
    import httpx

    server = toolkit.server
    account = server.client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "fresh"})
    assert account.status_code == 201, account.text
    sid, token = account.json()["sid"], account.json()["auth_token"]
    with httpx.Client(base_url=server.base_url, auth=(sid, token)) as as_account:
        created = as_account.post(f"/2010-04-01/Accounts/{sid}/Keys.json", data={})
    assert created.status_code == 201, created.text
    key, secret = created.json()["sid"], created.json()["secret"]
    env = {"CALLBOX_CONFIG_DIR": str(tmp_path / "config")}
    as_key = ("--url", server.base_url, "-u", key, "--password", secret)
    done = toolkit.run("assets", "init", *as_key, cwd=tmp_path, env=env, auth=False)
    assert done.exit_code == 0, done.output
    assert list(stored(tmp_path)) == [f"{server.base_url}|{sid}"]  # the account, not the key
    (tmp_path / "hold.mp3").write_bytes(MP3)
    up = toolkit.run("assets", "upload", "hold.mp3", *as_key, cwd=tmp_path, env=env, auth=False)
    assert up.exit_code == 0, up.output
    as_token = ("--url", server.base_url, "-u", sid, "--password", token)
    listed = toolkit.run(
        "assets", "list", *as_token, "-o", "json", cwd=tmp_path, env=env, auth=False
    )
    assert listed.exit_code == 0, listed.output
    assert [entry["path"] for entry in json.loads(listed.stdout)] == ["/hold.mp3"]


def test_parallel_uploads_keep_every_file(toolkit: Any, tmp_path: Path) -> None:
    import threading

    init(toolkit, tmp_path)
    env = {"CALLBOX_CONFIG_DIR": str(tmp_path / "config")}
    names = [f"part{i}.txt" for i in range(4)]
    for name in names:
        (tmp_path / name).write_text(name)
    results: list[Any] = []

    def upload_one(name: str) -> None:
        results.append(toolkit.run_process("assets", "upload", name, cwd=tmp_path, env=env))

    threads = [threading.Thread(target=upload_one, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert sorted(listing(toolkit, tmp_path)) == sorted(f"/{name}" for name in names)
