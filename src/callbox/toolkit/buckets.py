"""Where ``callbox assets`` remembers its bucket: the assets service and its environment, per
user, per server and account, in ``assets.json`` of the config folder (0600, next to the
profiles)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from callbox.toolkit import credentials
from callbox.toolkit.errors import ApiError

if TYPE_CHECKING:
    from callbox.toolkit.session import Session

STORE_FILE = "assets.json"
INIT_HINT = "run `callbox assets init`"


@dataclass(frozen=True)
class Bucket:
    """The stored details of the assets service for one server and account."""

    service_sid: str
    environment_sid: str
    domain: str


class BucketStore:
    """``assets.json``: {"<server url>|<account or username>": {serviceSid, environmentSid,
    domain}} — one bucket per server and account, shared by every project folder."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    @classmethod
    def of(cls, session: Session) -> BucketStore:
        who = session.account_sid or session.credentials.username
        key = f"{session.client.base_url}|{who}"  # normalised: .../v1 is the same server
        return cls(credentials.config_dir() / STORE_FILE, key)

    def _load(self) -> dict[str, Any]:
        try:
            return credentials.read_private(self.path)
        except credentials.CredentialsError:
            raise click.ClickException(
                f"{self.path} is not a valid JSON object: delete it, then {INIT_HINT} again."
            ) from None

    def get(self) -> Bucket | None:
        entry = self._load().get(self.key)
        if entry is None:
            return None
        fields = ("serviceSid", "environmentSid")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in fields):
            raise click.ClickException(
                f'{self.path}: the entry "{self.key}" is incomplete; {INIT_HINT} --force.'
            )
        return Bucket(entry["serviceSid"], entry["environmentSid"], str(entry.get("domain", "")))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held while a command reads, rebuilds and activates the bucket's build."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_name(f"{self.path.name}.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, bucket: Bucket) -> None:
        data = self._load()
        data[self.key] = {
            "serviceSid": bucket.service_sid,
            "environmentSid": bucket.environment_sid,
            "domain": bucket.domain,
        }
        credentials.write_private(self.path, data)


def require(session: Session) -> Bucket:
    bucket = BucketStore.of(session).get()
    if bucket is None:
        raise click.ClickException(
            f"No assets service is set up for {session.credentials.url} and this account: "
            f"{INIT_HINT} first."
        )
    return bucket


def fetch(session: Session, bucket: Bucket) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The stored service and environment, or None when the server no longer has them."""
    try:
        service = session.client.service(bucket.service_sid)
        environment = session.client.environment(bucket.service_sid, bucket.environment_sid)
    except ApiError as exc:
        if exc.not_found:
            return None
        raise
    return service, environment


def fetch_or_fail(session: Session, bucket: Bucket) -> tuple[dict[str, Any], dict[str, Any]]:
    found = fetch(session, bucket)
    if found is None:
        raise click.ClickException(
            f"The assets service {bucket.service_sid} (environment {bucket.environment_sid}) no "
            f"longer exists on {session.credentials.url}: {INIT_HINT} to create a new one."
        )
    return found
