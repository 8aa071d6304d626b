"""requirements.txt is installed (uv) before serving; a bad requirement stops `callbox start`.

Nothing here touches the network: the index is off and packages come from a local folder.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile

TINYDEP_SOURCE = 'VALUE = "tiny value from a local wheel"\n'


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_tinydep_wheel(folder):
    """A minimal pure-Python wheel, written by hand: tinydep.py plus its dist-info."""
    files = {
        "tinydep.py": TINYDEP_SOURCE.encode(),
        "tinydep-0.1.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\nSummary: e2e test package\n"
        ),
        "tinydep-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: callbox-e2e\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    record.append("tinydep-0.1.dist-info/RECORD,,")
    files["tinydep-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinydep-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def offline_env(tmp_path, find_links):
    return {
        "CALLBOX_NO_INDEX": "1",
        "CALLBOX_FIND_LINKS": str(find_links),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }


def test_missing_package_stops_start_with_a_clear_message(servers, callbox_cli, e2e, tmp_path):
    project = servers.copy("requirements-bad")
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    result = callbox_cli(
        ["start", str(project), "--port", str(e2e.free_port())],
        env=offline_env(tmp_path, empty),
        timeout=60,
    )
    assert result.returncode != 0
    assert "callbox-no-such-package-xyz" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Listening on" not in result.stdout


def test_local_wheel_is_installed_and_importable(servers, tmp_path):
    wheels = tmp_path / "wheels"
    build_tinydep_wheel(wheels)
    server = servers.start("requirements-tinydep", env=offline_env(tmp_path, wheels))
    assert any("Installed requirements.txt" in line for line in server.stdout_lines())
    response = server.client.get("/uses-tinydep")
    assert response.status_code == 200
    assert response.text == "tiny value from a local wheel"
    assert (server.root / ".callbox" / "site-packages" / "tinydep.py").is_file()
