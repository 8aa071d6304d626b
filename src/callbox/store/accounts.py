"""Accounts and API keys: who may call the API, and whose token signs protected requests.

Secrets are sealed at rest; verified credentials are remembered in memory (by SID), so a
request does not pay for decryption after the first one.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any

import sqlalchemy as sa

from callbox.store import slots
from callbox.store.db import Store, utcnow
from callbox.store.sids import ACCOUNT, API_KEY, is_sid, new_sid
from callbox.store.tables import accounts, api_keys

CACHE_SECONDS = 30.0


def new_token() -> str:
    return secrets.token_hex(16)  # 32 hex digits, like a Twilio auth token


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store
        # sid -> (account sid, clear secret, until when it may be believed without a query):
        # a key removed by another process (``callbox keys remove``) stops working within a TTL.
        self._known: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def ensure_owner(self, sid: str = "", token: str = "") -> tuple[str, str] | None:
        """Create the owner account when there is none; return (sid, token) only when created."""
        with self.store.begin() as conn:
            first = conn.execute(sa.select(accounts.c.auth_token_sealed).limit(1)).first()
            if first is not None:
                self._check_key(first[0])
                return None
            sid = sid or new_sid(ACCOUNT)
            if not is_sid(sid, ACCOUNT):
                raise ValueError(f"CALLBOX_ACCOUNT_SID must be AC and 32 hex digits; found {sid!r}")
            token = token or new_token()
            self._insert_account(conn, sid, token, "Owner account", None)
        return sid, token

    def _check_key(self, sealed: str) -> None:
        """Refuse to start with a secret key that cannot open what the database holds (a node
        of a cluster given its own key instead of the shared one), rather than fail each
        request that needs a secret."""
        try:
            self.store.box.open(sealed)
        except ValueError:
            raise ValueError(
                "This server's secret key cannot open the secrets in the database: they were "
                "sealed with another key. Every server on one database needs the same key: set "
                "CALLBOX_SECRET_KEY (or copy <data>/secret.key) from the first one "
                "(docs/deploy.md)."
            ) from None

    def create_account(self, friendly_name: str, owner_sid: str | None) -> tuple[str, str]:
        sid, token = new_sid(ACCOUNT), new_token()
        with self.store.begin() as conn:
            self._insert_account(conn, sid, token, friendly_name, owner_sid)
        return sid, token

    def _insert_account(
        self, conn: sa.Connection, sid: str, token: str, name: str, owner: str | None
    ) -> None:
        now = utcnow()
        conn.execute(
            accounts.insert().values(
                sid=sid,
                friendly_name=name,
                auth_token_sealed=self.store.box.seal(token),
                owner_account_sid=owner,
                status="active",
                date_created=now,
                date_updated=now,
            )
        )
        slots.assign(conn, sid)  # its installs' own uid

    def create_key(self, account_sid: str, friendly_name: str) -> tuple[str, str]:
        sid, secret = new_sid(API_KEY), secrets.token_urlsafe(24)
        now = utcnow()
        with self.store.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    sid=sid,
                    account_sid=account_sid,
                    friendly_name=friendly_name,
                    secret_sealed=self.store.box.seal(secret),
                    date_created=now,
                    date_updated=now,
                )
            )
        return sid, secret

    def delete_key(self, account_sid: str, key_sid: str) -> bool:
        with self.store.begin() as conn:
            done = conn.execute(
                api_keys.delete().where(
                    api_keys.c.sid == key_sid, api_keys.c.account_sid == account_sid
                )
            ).rowcount
        with self._lock:
            self._known.pop(key_sid, None)
        return bool(done)

    def owner(self) -> tuple[str, str] | None:
        """The owner account's (sid, token): the first account, created on first start."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(accounts.c.sid)
                .where(accounts.c.owner_account_sid.is_(None))
                .order_by(accounts.c.date_created)
            ).first()
        token = self.auth_token(row[0]) if row else None
        return (row[0], token) if row and token else None

    def account(self, sid: str) -> Any:
        with self.store.read() as conn:
            return conn.execute(sa.select(accounts).where(accounts.c.sid == sid)).first()

    def children(self, owner_sid: str) -> list[Any]:
        with self.store.read() as conn:
            query = sa.select(accounts).where(
                sa.or_(accounts.c.sid == owner_sid, accounts.c.owner_account_sid == owner_sid)
            )
            return list(conn.execute(query.order_by(accounts.c.date_created)).all())

    def keys(self, account_sid: str) -> list[Any]:
        with self.store.read() as conn:
            query = sa.select(api_keys).where(api_keys.c.account_sid == account_sid)
            return list(conn.execute(query.order_by(api_keys.c.date_created)).all())

    def auth_token(self, account_sid: str) -> str | None:
        """The account's auth token in clear (protected resources are signed with it)."""
        known = self._lookup(account_sid)
        return known[1] if known else None

    def authenticate(self, username: str, password: str) -> str | None:
        """The account SID these credentials act for (SID + token, or key SID + secret)."""
        known = self._lookup(username)
        if known is None or not hmac.compare_digest(known[1].encode(), password.encode()):
            return None
        return known[0]

    def _lookup(self, sid: str) -> tuple[str, str] | None:
        with self._lock:
            known = self._known.get(sid)
        if known is not None and known[2] > time.monotonic():
            return known[0], known[1]
        with self.store.read() as conn:
            if is_sid(sid, ACCOUNT):
                row = conn.execute(
                    sa.select(accounts.c.sid, accounts.c.auth_token_sealed).where(
                        accounts.c.sid == sid, accounts.c.status == "active"
                    )
                ).first()
            elif is_sid(sid, API_KEY):
                row = conn.execute(
                    sa.select(api_keys.c.account_sid, api_keys.c.secret_sealed).where(
                        api_keys.c.sid == sid
                    )
                ).first()
            else:
                return None
        if row is None:
            return None
        account, secret = row[0], self.store.box.open(row[1])
        with self._lock:
            self._known[sid] = (account, secret, time.monotonic() + CACHE_SECONDS)
        return account, secret
