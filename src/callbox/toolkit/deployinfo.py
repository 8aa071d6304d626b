""".twiliodeployinfo: which service a project deployed to, and its latest build, per account.

The same file Twilio's toolkit writes: tab-indented JSON
``{"<ACCOUNT_SID>:<region>": {"serviceSid": "ZS...", "latestBuild": "ZB..."}}``. A service is
remembered as soon as a deploy created (or found) it, with ``"latestBuild": ""`` until it has a
build, so a deploy that fails half-way is retried into the same service. The file is checked
strictly; one that is not exactly that shape is treated as empty (and not rewritten), so a
hand-edited or foreign file never breaks a deploy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from callbox.toolkit.files import write_whole

FILE_NAME = ".twiliodeployinfo"
_SID = {
    "serviceSid": re.compile(r"ZS[0-9a-f]{32}"),
    "latestBuild": re.compile(r"(ZB[0-9a-f]{32})?"),
}
_KEY = re.compile(r"AC[0-9a-f]{32}(:[a-z0-9]+)?")


@dataclass(frozen=True)
class DeployInfo:
    service_sid: str
    latest_build: str  # "" while the service has no build yet


def _read(root: Path) -> dict[str, dict[str, str]] | None:
    """The whole file, or None when it is missing or not exactly the expected shape."""
    try:
        data = json.loads((root / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for key, entry in data.items():
        if not _KEY.fullmatch(key) or not isinstance(entry, dict) or set(entry) != set(_SID):
            return None
        if not all(isinstance(entry[f], str) and _SID[f].fullmatch(entry[f]) for f in _SID):
            return None
    return data


def invalid(root: Path) -> bool:
    """True when the file exists but is not in the expected shape (so it is not used)."""
    return (root / FILE_NAME).exists() and _read(root) is None


def lookup(root: Path, account_sid: str, region: str | None = None) -> DeployInfo | None:
    data = _read(root) or {}
    # The key without a region is the legacy form: read as a fallback.
    entry = data.get(f"{account_sid}:{region or 'us1'}") or data.get(account_sid)
    return DeployInfo(entry["serviceSid"], entry["latestBuild"]) if entry else None


def record(
    root: Path, account_sid: str, region: str | None, service_sid: str, build_sid: str
) -> bool:
    """Remember a deploy's service and build (``build_sid`` "": the service alone, keeping the
    build already recorded for it); False when an existing file is invalid and was left alone."""
    path = root / FILE_NAME
    data = _read(root)
    if data is None:
        if path.exists():
            return False
        data = {}
    region = region or "us1"
    key = f"{account_sid}:{region}"
    if not build_sid:
        known = lookup(root, account_sid, region)
        if known is not None and known.service_sid == service_sid:
            if data.get(key) is not None:
                return True  # already there, build and all
            build_sid = known.latest_build
    if region == "us1":
        data.pop(account_sid, None)
    data[key] = {"serviceSid": service_sid, "latestBuild": build_sid}
    write_whole(path, json.dumps(data, indent="\t") + "\n")
    return True
