"""``callbox serve``: one ASGI app on one port. A request whose Host is an environment domain
(``<name>-<digits>[-<suffix>].<base-domain>``) goes to the gateway; everything else to the API.

``create_server(config)`` composes the parts: store, accounts, builder, log book, worker
supervisor and pools, the environments source, the gateway and the API, and the watcher that
keeps this node in step with the others on the same database (cluster/watcher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callbox.api.app import Api, create_api
from callbox.asgi import ASGIApp, Receive, Scope, Send, run_lifespan
from callbox.builds.builder import Builder
from callbox.cluster.nodes import Heartbeat, heartbeat_interval, node_name
from callbox.cluster.watcher import Chore, Watcher
from callbox.config import Config
from callbox.errors import CallboxError, HeadersTooLarge, NotFound, Unauthorized
from callbox.gateway.app import (
    Answer,
    Encoded,
    Gateway,
    Request,
    Respond,
    Served,
    Ticket,
    header,
    header_bytes,
    only_host,
    raw_path,
    refuse_websocket,
)
from callbox.gateway.pool import PoolSet
from callbox.gateway.supervisor import Supervisor
from callbox.hosting import Environments
from callbox.logs.book import LogBook
from callbox.monitor.access import AccessLog
from callbox.monitor.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from callbox.monitor.metrics import Metrics
from callbox.monitor.webhook import WebhookSender
from callbox.sandbox.policy import Sandbox
from callbox.store.accounts import Accounts
from callbox.store.db import Store
from callbox.worker.frames import LogLine

log = logging.getLogger("callbox.server")


class ServerEvents:
    """What the gateway reports: function log lines and failures go to the log book (and the
    Debugger's alerts), every answer to the metrics."""

    def __init__(self, logbook: LogBook, metrics: Metrics | None) -> None:
        self.logbook = logbook
        self.metrics = metrics
        self.counts_requests = metrics is not None

    def request_done(self, served: Served) -> None:
        if self.metrics is not None:  # None: CALLBOX_METRICS=off, nothing to count for
            self.metrics.answered(served.status, served.duration_ms / 1000, served.meta)

    def function_logs(self, meta: dict[str, Any], lines: list[LogLine]) -> None:
        self.logbook.record(meta, lines)

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None:
        self.logbook.record_failure(meta, code, text)


@dataclass
class Server:
    config: Config
    store: Store
    accounts: Accounts
    builder: Builder
    logbook: LogBook
    supervisor: Supervisor
    sandbox: Sandbox
    pools: PoolSet
    environments: Environments
    gateway: Gateway
    api: ASGIApp
    trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    metrics: Metrics = field(default_factory=Metrics)
    access_log: AccessLog | None = None
    webhook: WebhookSender | None = None
    heartbeat: Heartbeat | None = None
    watcher: Watcher | None = None
    _domains: dict[str, bool] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send, self.startup, self.shutdown, log)
            return
        if scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)  # neither plane speaks it
        if scope["type"] != "http":
            return
        if self.access_log is None:
            await self._route(scope, receive, send)
            return
        started = time.perf_counter()
        answered = {"status": 0, "size": 0}

        async def logged(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answered["size"] += len(message.get("body", b""))
            await send(message)

        try:
            await self._route(scope, receive, logged)
        finally:
            client = scope.get("client")
            # A load balancer's health checks (several a second on every node) are left out.
            if scope["path"] not in _PROBES or scope.get("callbox.plane") != "api":
                self.access_log.write(
                    client=client[0] if client else "-",
                    method=scope["method"],
                    path=raw_path(scope),
                    version=scope.get("http_version", "1.1"),
                    status=answered["status"],
                    size=answered["size"],
                    host=header(scope["headers"], b"host") or "-",
                    duration_ms=(time.perf_counter() - started) * 1000,
                    request_sid=scope.get("callbox.request_sid", ""),
                )

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            only_host(scope["headers"])
        except CallboxError as exc:
            await _answer(send, exc)
            return
        if self.trusted:
            self._apply_forwarded(scope)
        host = _host(scope)
        if self.is_environment_domain(host):
            await self.gateway(scope, receive, send)  # it checks the header limits itself
        elif scope["path"] == "/metrics":
            await self._metrics(scope, send)
        elif header_bytes(scope["headers"]) > self.config.max_header_bytes:
            await _answer(send, HeadersTooLarge("Request headers too long"))
        else:
            scope["callbox.plane"] = "api"  # for the access log
            await self.api(scope, receive, send)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        """``GET /metrics`` (Prometheus): off (404), open, or behind a bearer token."""
        setting = self.config.metrics
        if setting == "off":
            await _answer(send, NotFound("The requested resource /metrics was not found"))
            return
        if setting == "token":
            given = header(scope["headers"], b"authorization") or ""
            expected = f"Bearer {self.config.metrics_token}"
            if not self.config.metrics_token or not hmac.compare_digest(
                given.encode(), expected.encode()
            ):
                await _answer(send, Unauthorized("GET /metrics needs the metrics bearer token."))
                return
        body = await asyncio.to_thread(self.metrics.render)
        headers = [
            (b"content-type", METRICS_CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def is_environment_domain(self, host: str) -> bool:
        """``<name>-<4 digits>[-<suffix>].<base domain>``; other names (api.<base>) are not."""
        known = self._domains.get(host)
        if known is None:  # asked on every request: the answers are kept (a bounded few)
            base = self.config.base_domain  # lower case already (Config.load)
            label = host[: -len(base) - 1] if host.endswith("." + base) else ""
            known = bool(_ENVIRONMENT_LABEL.match(label))
            if len(self._domains) >= 4096:
                self._domains.clear()
            self._domains[host] = known
        return known

    def _apply_forwarded(self, scope: Scope) -> None:
        client = scope.get("client")
        forwarded = self._forwarded(client[0] if client else "", scope["headers"])
        if forwarded is not None:
            scheme, scope["headers"] = forwarded
            if scheme:
                scope["scheme"] = scheme

    def _forwarded(
        self, client: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[str, list[tuple[bytes, bytes]]] | None:
        """Believe X-Forwarded-Proto / -Host only from a configured proxy: (the scheme it
        names or "", the headers with its Host), or None when there is nothing to believe."""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return None
        if not any(address in net for net in self.trusted):
            return None
        proto = header(headers, b"x-forwarded-proto")
        forwarded_host = header(headers, b"x-forwarded-host")
        if forwarded_host:
            value = forwarded_host.split(",")[0].strip().encode("latin-1")
            headers = [(k, v) for k, v in headers if k.lower() != b"host"] + [(b"host", value)]
        return (proto.split(",")[0].strip().lower() if proto else ""), headers

    # The fast lane (listener.py): function calls answered without an ASGI task.

    def admit(self, request: Request) -> Ticket | None:
        if self.trusted:
            forwarded = self._forwarded(request.client, request.headers)
            if forwarded is not None:
                scheme, request.headers = forwarded
                request.scheme = scheme or request.scheme
        return self.gateway.admit(request, self.is_environment_domain)

    def begin(self, ticket: Ticket, body: bytes, respond: Respond) -> None:
        self.gateway.begin(ticket, body, respond)

    def answered(self, ticket: Ticket, answer: Answer) -> Encoded:
        encoded = self.gateway.answered(ticket.request, answer, ticket.started)
        if self.access_log is not None:
            request = ticket.request
            meta = answer.meta
            self.access_log.write(
                client=request.client,
                method=request.method,
                path=request.target,
                version=request.version,
                status=encoded[0],
                size=len(encoded[2]),
                host=ticket.host or "-",
                duration_ms=(time.perf_counter() - ticket.started) * 1000,
                request_sid=meta.get("request_sid", "") if meta else "",
            )
        return encoded

    async def startup(self) -> None:
        if self.heartbeat is not None:
            await asyncio.to_thread(self.heartbeat.beat)  # alive before claiming anything
            log.info("This node is %s.", self.heartbeat.name)
        interrupted = self.builder.recover()
        if interrupted:
            log.warning(
                "%d build(s) were interrupted by the last stop and are marked failed: %s",
                len(interrupted),
                ", ".join(interrupted),
            )
        self.logbook.start()
        if self.webhook is not None:
            self.webhook.start()
        await self.supervisor.start()
        self.environments.attach()
        if self.watcher is not None:
            self.watcher.start()
        # What start-up loaded (libraries, the schema, the API's routes) lives as long as the
        # server: out of the collector's sight, so that its full collections, which a busy
        # server triggers every few seconds, walk only what requests made (measured: about
        # 1 µs of the gateway's 29 per function request).
        gc.collect()
        gc.freeze()

    async def shutdown(self) -> None:
        gc.unfreeze()  # an embedding process (the tests) goes on after this server
        if self.watcher is not None:
            await asyncio.to_thread(self.watcher.close)
        self.environments.close()
        self.pools.close()
        with contextlib.suppress(Exception):
            await self.supervisor.stop()
        self.builder.close()
        if self.heartbeat is not None:
            with contextlib.suppress(Exception):  # the database may be away: it times out
                await asyncio.to_thread(self.heartbeat.leave)
        await asyncio.to_thread(self.sandbox.close)  # after every worker and install ended
        self.logbook.close()
        if self.webhook is not None:
            self.webhook.close()
        if self.access_log is not None:
            self.access_log.flush()
        self.store.close()


# API paths the access log leaves out (on an environment's domain they are logged).
_PROBES = frozenset({"/health", "/ready"})


def create_server(config: Config, own_ports: Sequence[int] = ()) -> Server:
    """Compose the server; ``own_ports`` are where it listens (functions may call those)."""
    trusted = _networks(config.trusted_proxies)
    store = Store.open(Path(config.data_dir), config.database_url, config.secret_key)
    sandbox = Sandbox(config.sandbox_settings(), hidden=[store.data], own_ports=own_ports)
    accounts = Accounts(store)
    metrics = Metrics()
    node = node_name(config.node_name, store.data)
    builder = Builder(store, config, sandbox, on_finished=metrics.build_finished, node=node)
    webhook = WebhookSender(store, accounts.auth_token, delays=config.webhook_delays())
    logbook = LogBook(
        store, config.log_retention_days, config.alert_retention_days, on_alerts=webhook.submit
    )
    supervisor = Supervisor(max_body=config.max_response_bytes, sandbox=sandbox)
    pools = PoolSet(supervisor, config, logbook.record)
    environments = Environments(
        store,
        accounts,
        builder,
        pools.serve_only,
        warm=lambda d: pools.pool_for(d).warm(),
        prepare_wait=config.prepare_wait,
    )
    heartbeat = Heartbeat(store, node)
    beat = heartbeat_interval(config.node_timeout)
    watcher = Watcher(
        store,
        on_changes=environments.apply,
        on_logs=logbook.poll_live,
        chores=[
            Chore("heartbeat", beat, heartbeat.beat),
            Chore("fail builds of stopped nodes", beat, builder.fail_orphans),
            Chore("claim queued builds", beat, builder.claim_queued),
        ],
        interval=config.change_poll_interval,
    )
    counted = metrics if config.metrics != "off" else None
    gateway = Gateway(config, environments, pools, ServerEvents(logbook, counted))
    metrics.live.workers = supervisor.workers_by_runtime
    metrics.live.starts = lambda: dict(supervisor.started)
    metrics.live.subscribers = logbook.subscriber_count
    api = Api(
        config=config,
        store=store,
        accounts=accounts,
        builder=builder,
        logbook=logbook,
        webhooks=webhook,
        on_change=environments.changed,
        on_activate=environments.activated,
    )
    return Server(
        config=config,
        store=store,
        accounts=accounts,
        builder=builder,
        logbook=logbook,
        supervisor=supervisor,
        sandbox=sandbox,
        pools=pools,
        environments=environments,
        gateway=gateway,
        api=create_api(api),
        trusted=trusted,
        metrics=metrics,
        access_log=AccessLog() if config.access_log else None,
        webhook=webhook,
        heartbeat=heartbeat,
        watcher=watcher,
    )


def _networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in text.split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"CALLBOX_TRUSTED_PROXIES: {item!r} is not an IP address or network"
                ) from None
    return networks


_ENVIRONMENT_LABEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-\d{4}(?:-[a-z0-9]+(?:-[a-z0-9]+)*)?$")


async def _answer(send: Send, error: CallboxError) -> None:
    body = error.to_json()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _host(scope: Scope) -> str:
    host = header(scope["headers"], b"host") or ""
    if host.startswith("["):  # IPv6 literal: never an environment domain
        return host
    return host.rsplit(":", 1)[0].lower()
