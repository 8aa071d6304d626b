"""Who the toolkit talks to, and as whom: the server URL and the Basic-auth pair.

Credentials, first source that has both halves wins:
  1. ``--username`` / ``--password`` (account SID + auth token, or API key + secret);
  2. ``--profile NAME`` (a profile saved by ``callbox login``);
  3. ``TWILIO_ACCOUNT_SID`` + ``TWILIO_AUTH_TOKEN``, or ``TWILIO_API_KEY`` + ``TWILIO_API_SECRET``;
  4. ``ACCOUNT_SID`` + ``AUTH_TOKEN`` in the project's .env (as Twilio's standalone toolkit);
  5. the active profile.
The server URL: ``--url``, then ``CALLBOX_URL``, then the chosen (or active) profile's URL, then
the local default. Profiles live in one JSON file only its owner can read (0600 in a 0700
folder), like the Twilio CLI's own config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callbox.toolkit.errors import CredentialsError
from callbox.toolkit.files import write_whole

DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    username: str
    password: str
    account_sid: str | None = None


@dataclass(frozen=True)
class Credentials:
    url: str
    username: str
    password: str
    source: str  # said in errors: "--username/--password", "profile dev", ".env (/p/.env)"
    account_sid: str | None  # None when an API key is used and its account is not known yet


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("CALLBOX_CONFIG_DIR"):
        return Path(env["CALLBOX_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "callbox"


def write_private(path: Path, data: Any) -> None:
    """Write JSON readable only by its owner; never a half-written file (rename into place)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_whole(path, json.dumps(data, indent=2) + "\n", private=True)


def read_private(path: Path) -> dict[str, Any]:
    """A JSON object written by ``write_private``; a missing file is empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CredentialsError(
            f"Cannot read {path}: {exc}. Fix or delete the file, then run `callbox login` again."
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path} does not hold a JSON object; delete it and log in again.")
    return data


class ProfileStore:
    """``profiles.json``: {"active": name, "profiles": {name: {url, username, password, ...}}}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> ProfileStore:
        return cls(config_dir(environ) / "profiles.json")

    def _load(self) -> dict[str, Any]:
        data = read_private(self.path)
        if not isinstance(data.get("profiles", {}), dict):
            raise CredentialsError(f"{self.path}: 'profiles' is not an object; delete the file.")
        return data

    def all(self) -> list[Profile]:
        profiles = self._load().get("profiles", {})
        return [self._profile(name, fields) for name, fields in sorted(profiles.items())]

    def active_name(self) -> str | None:
        name = self._load().get("active")
        return name if isinstance(name, str) else None

    def get(self, name: str) -> Profile:
        profiles = self._load().get("profiles", {})
        fields = profiles.get(name)
        if fields is None:
            known = ", ".join(sorted(profiles)) or "none yet"
            raise CredentialsError(
                f'No profile named "{name}" (profiles: {known}). Create it with '
                f"`callbox login --profile {name}`."
            )
        return self._profile(name, fields)

    def active(self) -> Profile | None:
        name = self.active_name()
        return self.get(name) if name else None

    def save(self, profile: Profile, *, activate: bool) -> None:
        data = self._load()
        data.setdefault("profiles", {})[profile.name] = {
            "url": profile.url,
            "username": profile.username,
            "password": profile.password,
            "account_sid": profile.account_sid,
        }
        if activate or not data.get("active"):
            data["active"] = profile.name
        write_private(self.path, data)

    def use(self, name: str) -> Profile:
        profile = self.get(name)
        data = self._load()
        data["active"] = name
        write_private(self.path, data)
        return profile

    def remove(self, name: str) -> None:
        data = self._load()
        if name not in data.get("profiles", {}):
            self.get(name)  # raises, saying which profiles exist
        del data["profiles"][name]
        if data.get("active") == name:
            data["active"] = next(iter(sorted(data["profiles"])), None)
        write_private(self.path, data)

    def _profile(self, name: str, fields: Any) -> Profile:
        if not isinstance(fields, dict) or not all(
            isinstance(fields.get(k), str) for k in ("url", "username", "password")
        ):
            raise CredentialsError(
                f'{self.path}: profile "{name}" is incomplete; run `callbox login --profile '
                f"{name}` again."
            )
        account = fields.get("account_sid")
        return Profile(
            name,
            fields["url"],
            fields["username"],
            fields["password"],
            account if isinstance(account, str) else None,
        )


def account_of(username: str) -> str | None:
    return username if username.startswith("AC") else None


def resolve(
    *,
    url: str | None,
    username: str | None,
    password: str | None,
    profile: str | None,
    env_values: Mapping[str, str],
    env_file: Path | None,
    environ: Mapping[str, str],
    store: ProfileStore,
) -> Credentials:
    """The credentials and server URL for an API command (order in the module docstring)."""
    chosen = store.get(profile) if profile else None
    server = url or environ.get("CALLBOX_URL")
    if not server:  # the profiles file is read only when needed: a broken one blocks nothing
        fallback = chosen or store.active()
        server = fallback.url if fallback else DEFAULT_URL
    if username or password:
        if not (username and password):
            missing = "--password" if username else "--username"
            raise CredentialsError(
                f"Missing credentials: {missing} is needed too (give both --username and "
                "--password: an account SID and auth token, or an API key and secret)."
            )
        return Credentials(
            server, username, password, "--username/--password", account_of(username)
        )
    if chosen is not None:
        return _from_profile(chosen, server)
    for user_key, secret_key in (
        ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
        ("TWILIO_API_KEY", "TWILIO_API_SECRET"),
    ):
        if environ.get(user_key) and environ.get(secret_key):
            user = environ[user_key]
            account = account_of(user) or account_of(environ.get("TWILIO_ACCOUNT_SID", ""))
            return Credentials(server, user, environ[secret_key], f"${user_key}", account)
    if env_values.get("ACCOUNT_SID") and env_values.get("AUTH_TOKEN"):
        user = env_values["ACCOUNT_SID"]
        return Credentials(
            server, user, env_values["AUTH_TOKEN"], f".env ({env_file})", account_of(user)
        )
    active = store.active()
    if active is not None:
        return _from_profile(active, server)
    raise CredentialsError(
        "Missing credentials: pass --username and --password, set TWILIO_ACCOUNT_SID and "
        "TWILIO_AUTH_TOKEN, put ACCOUNT_SID and AUTH_TOKEN in the project's .env, or save a "
        "profile with `callbox login`."
    )


def _from_profile(profile: Profile, server: str) -> Credentials:
    account = profile.account_sid or account_of(profile.username)
    return Credentials(
        server, profile.username, profile.password, f'profile "{profile.name}"', account
    )
