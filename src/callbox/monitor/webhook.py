"""The Debugger's webhook: every alert is POSTed to its account's webhook URL, if it has one,
as Twilio's Debugger does: a form with ``AccountSid``, ``Sid``, ``ParentAccountSid``,
``Timestamp``, ``Level``, ``PayloadType`` and ``Payload`` (JSON), signed with
``X-Twilio-Signature`` from the account's auth token (the twilio library's validator), so a
receiver checks it like any Twilio webhook.

Off the hot path: alerts are queued (bounded; the oldest go first when it is full) and one
thread posts them, trying again after ``RETRY_DELAYS`` when a post fails (no answer, or not
2xx). An invocation never waits for it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import httpx
import sqlalchemy as sa

from callbox.store.db import Store, utcnow
from callbox.store.tables import accounts, debugger_webhooks

log = logging.getLogger("callbox.debugger")

RETRY_DELAYS = (1.0, 5.0, 25.0)  # seconds before the 2nd, 3rd and 4th attempt
TIMEOUT = 10.0
MAX_QUEUED = 10_000
_URL_CACHE_SECONDS = 5.0


def webhook_url(conn: sa.Connection, account_sid: str) -> str | None:
    return conn.execute(
        sa.select(debugger_webhooks.c.url).where(debugger_webhooks.c.account_sid == account_sid)
    ).scalar_one_or_none()


def set_webhook(conn: sa.Connection, account_sid: str, url: str) -> None:
    now = utcnow()
    updated = conn.execute(
        debugger_webhooks.update()
        .where(debugger_webhooks.c.account_sid == account_sid)
        .values(url=url, date_updated=now)
    ).rowcount
    if not updated:
        conn.execute(
            debugger_webhooks.insert().values(
                account_sid=account_sid, url=url, date_created=now, date_updated=now
            )
        )


def delete_webhook(conn: sa.Connection, account_sid: str) -> bool:
    deleted = conn.execute(
        debugger_webhooks.delete().where(debugger_webhooks.c.account_sid == account_sid)
    ).rowcount
    return bool(deleted)


def form(alert: dict[str, Any], parent_sid: str | None) -> dict[str, str]:
    """The fields Twilio's Debugger posts for one alert."""
    code = str(alert["error_code"])
    payload = {
        "resource_sid": alert.get("function_sid") or alert.get("service_sid"),
        "service_sid": alert.get("service_sid"),
        "environment_sid": alert.get("environment_sid"),
        "request_sid": alert.get("request_sid"),
        "error_code": code,
        "more_info": {"Msg": alert["alert_text"]},
        "webhook": {
            "type": "application/json",
            "request": {"url": alert.get("request_url"), "method": alert.get("request_method")},
        },
    }
    date = alert["date_created"].replace(tzinfo=UTC)
    return {
        "AccountSid": alert["account_sid"],
        "Sid": alert["sid"],
        "ParentAccountSid": parent_sid or "",
        "Timestamp": date.isoformat().replace("+00:00", "Z"),
        "Level": "Error" if alert["log_level"] == "error" else "Warning",
        "PayloadType": "application/json",
        "Payload": json.dumps(payload, separators=(",", ":")),
    }


def sign(token: str, url: str, fields: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(token).compute_signature(url, fields))


class WebhookSender:
    """Posts alerts to their accounts' webhooks from a thread of its own."""

    def __init__(
        self,
        store: Store,
        auth_token: Callable[[str], str | None],
        delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = TIMEOUT,
    ) -> None:
        self.store = store
        self.auth_token = auth_token
        self.delays = tuple(delays)
        self.timeout = timeout
        self.delivered = 0
        self.given_up = 0
        self._queue: queue.Queue[tuple[float, int, dict[str, Any]]] = queue.Queue()
        self._retries: list[tuple[float, int, dict[str, Any]]] = []
        self._urls: dict[str, tuple[float, str | None, str | None]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="callbox-webhook", daemon=True)
            self._thread.start()

    def submit(self, alerts: list[dict[str, Any]]) -> None:
        """Queue stored alerts (from the log book's writer thread): never blocks."""
        for alert in alerts:
            if self._queue.qsize() >= MAX_QUEUED:
                log.warning("The Debugger webhook queue is full; an alert is not posted.")
                return
            self._queue.put((time.monotonic(), 0, alert))

    def forget(self, account_sid: str) -> None:
        """The account's webhook changed: read it again."""
        self._urls.pop(account_sid, None)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as http:
            while not self._stop.is_set():
                item = self._next()
                if item is None:
                    continue
                _, attempt, alert = item
                try:
                    self._post(http, alert, attempt)
                except Exception:  # noqa: BLE001 - a bad alert or URL must not stop the thread
                    log.exception(
                        "Posting alert %s to the Debugger webhook failed.", alert.get("sid")
                    )

    def _next(self) -> tuple[float, int, dict[str, Any]] | None:
        now = time.monotonic()
        due = [r for r in self._retries if r[0] <= now]
        if due:
            self._retries.remove(due[0])
            return due[0]
        wait = min((r[0] for r in self._retries), default=now + 0.5) - now
        try:
            return self._queue.get(timeout=max(0.01, min(wait, 0.5)))
        except queue.Empty:
            return None

    def _post(self, http: httpx.Client, alert: dict[str, Any], attempt: int) -> None:
        url, parent = self._webhook(alert["account_sid"])
        if not url:
            return
        token = self.auth_token(alert["account_sid"])
        if token is None:
            return
        fields = form(alert, parent)
        headers = {"X-Twilio-Signature": sign(token, url, fields), "User-Agent": "callbox-debugger"}
        try:
            response = http.post(url, data=fields, headers=headers)
            ok = 200 <= response.status_code < 300
            why = f"it answered {response.status_code}"
        except httpx.HTTPError as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        if ok:
            self.delivered += 1
            return
        if attempt < len(self.delays):
            self._retries.append((time.monotonic() + self.delays[attempt], attempt + 1, alert))
            return
        self.given_up += 1
        log.warning(
            "The Debugger webhook %s did not take alert %s after %d attempts (%s).",
            url,
            alert["sid"],
            attempt + 1,
            why,
        )

    def _webhook(self, account_sid: str) -> tuple[str | None, str | None]:
        cached = self._urls.get(account_sid)
        if cached is not None and time.monotonic() - cached[0] < _URL_CACHE_SECONDS:
            return cached[1], cached[2]
        with self.store.read() as conn:
            url = webhook_url(conn, account_sid)
            parent = conn.execute(
                sa.select(accounts.c.owner_account_sid).where(accounts.c.sid == account_sid)
            ).scalar_one_or_none()
        self._urls[account_sid] = (time.monotonic(), url, parent)
        return url, parent
