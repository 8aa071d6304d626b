"""Runtime configuration, resolved once from the environment and explicit overrides.

Nothing else in callbox reads ``os.environ`` for settings: components receive a ``Config``.
Every limit of the Twilio docs is a field here so tests can use small values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callbox.sandbox.policy import Settings

_ENV_PREFIX = "CALLBOX_"


@dataclass(frozen=True)
class Config:
    # Limits documented on the "Function Request Flow" and "Limitations" pages.
    execution_timeout: float = 10.0
    max_request_bytes: int = 1024 * 1024
    max_response_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 15 * 1024
    max_header_count: int = 90
    concurrency_limit: int = 30
    # Reading a request (listener.py): the headers within this many seconds; the body within
    # its timeout plus one second per min_rate bytes received. 0 turns a limit off.
    request_header_timeout: float = 10.0
    request_body_timeout: float = 30.0
    request_body_min_rate: int = 64 * 1024
    # Worker processes: address-space cap per worker (MB, on top of the warm parent's size) and
    # how many processes one build may use. How many invocations a worker holds is bounded by
    # the concurrency limit alone: async invocations cost almost nothing while they wait.
    memory_limit_mb: int = 256
    # One worker per core: more processes than cores only adds scheduling stalls (measured).
    max_workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    # Threads per worker for plain (sync) handlers: how many may block at once in one worker.
    handler_threads: int = 32
    # How long a cancelled async invocation may take to stop before its worker is retired.
    cancel_grace: float = 1.0
    # Local development only: a debugger may attach to workers at "HOST:PORT" (Python: debugpy,
    # the Debug Adapter Protocol; Node.js: node --inspect); with inspect_wait each worker waits
    # for one before serving.
    inspect: str = ""
    inspect_wait: bool = False
    # Local development only: include stack traces in error bodies; skip signature checks.
    debug_errors: bool = False
    skip_signature_check: bool = False
    # Where dependencies come from (uv): a package index, a folder of wheels, or both.
    index_url: str = ""
    find_links: str = ""
    no_index: bool = False
    # Where npm takes Node.js builds' packages from (its --registry); empty: npm's default.
    npm_registry: str = ""
    # The control plane (``callbox serve``): where its data lives and how domains are formed.
    data_dir: str = field(default_factory=lambda: _default_data_dir())
    database_url: str = ""  # default: SQLite in data_dir
    base_domain: str = "localhost"
    # Addresses whose X-Forwarded-Proto / X-Forwarded-Host are believed (comma-separated).
    trusted_proxies: str = ""
    log_retention_days: float = 30.0
    # The Debugger's alerts (WARN/ERROR lines and failed invocations) are kept this long.
    alert_retention_days: float = 30.0
    # One line per request of `callbox serve` on its output (monitor/access.py's format).
    access_log: bool = True
    # GET /metrics (Prometheus): "off" (404), "open", or "token" (Bearer CALLBOX_METRICS_TOKEN).
    metrics: str = "off"
    metrics_token: str = ""
    # Seconds before each new attempt to post an alert to a Debugger webhook that failed.
    webhook_retry_delays: str = "1,5,25"
    # How many builds install and validate at once; more wait their turn, still "building".
    build_concurrency: int = 2
    # Several nodes on one PostgreSQL database (docs/deploy.md): this node's name (default:
    # made on first start and kept in <data_dir>/node-name); how often a node looks for changes
    # other nodes made when no notification wakes it (seconds); how long a request waits for
    # its build to be prepared on this node before a 503 with Retry-After (seconds); how long
    # a node may go without a heartbeat before the others take it for dead and fail its builds.
    node_name: str = ""
    change_poll_interval: float = 0.5
    prepare_wait: float = 5.0
    node_timeout: float = 10.0
    # The key sealing secrets at rest; empty: <data_dir>/secret.key (created on first start).
    secret_key: str = ""
    # The owner account created on first start (CALLBOX_ACCOUNT_SID / CALLBOX_AUTH_TOKEN);
    # random when empty. Ignored once the store has an account.
    account_sid: str = ""
    auth_token: str = ""
    # The sandbox functions and installs run in (docs/security.md): "auto" picks the strongest
    # this machine allows ("isolated" as root, else "landlock"); "off" is for benchmarks.
    sandbox: str = "auto"
    # Each service's workers (and each account's installs) run as their own uid from this range.
    sandbox_uid_base: int = 200_000
    sandbox_uid_count: int = 100_000
    # A worker's temporary folder (MB); it lives in memory, so it counts toward memory_limit_mb.
    tmp_quota_mb: int = 64
    # Processes and threads per service, all its workers together; 0: enough for max_workers
    # workers of two builds (one draining) with every handler thread busy.
    pids_limit: int = 0
    # What functions may reach on this machine beyond callbox's own port (comma-separated
    # ":PORT" or "ADDRESS[/PREFIX][:PORT]"), and networks they may never reach.
    network_allow: str = ""
    network_deny: str = "169.254.0.0/16,fe80::/10"
    # Server environment variables functions may see, beyond PATH, LANG, TZ, HOME and TMPDIR.
    sandbox_env: str = ""
    # Memory of one dependency install (package build scripts run in it).
    install_memory_mb: int = 2048

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``CALLBOX_<FIELD>`` variables, then explicit overrides (None ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(_ENV_PREFIX + item.name.upper())
            if raw is not None:
                values[item.name] = _coerce(item.name, item.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "base_domain" in values:  # hosts are compared in lower case
            values["base_domain"] = str(values["base_domain"]).lower().strip(".")
        return cls(**values)

    def sandbox_settings(self) -> Settings:
        """The sandbox's part of this configuration."""
        from callbox.sandbox.policy import Settings

        pids = self.pids_limit or max(256, 2 * self.max_workers * (self.handler_threads + 16))
        return Settings(
            mode=self.sandbox,
            uid_base=self.sandbox_uid_base,
            uid_count=self.sandbox_uid_count,
            tmp_mb=self.tmp_quota_mb,
            memory_mb=self.memory_limit_mb,
            pids=pids,
            env_names=_items(self.sandbox_env),
            # A debugger's adapter talks to its worker over loopback (callbox start --inspect).
            allow=_items(self.network_allow) + (("127.0.0.0/8", "[::1]") if self.inspect else ()),
            deny=_items(self.network_deny),
            install_memory_mb=self.install_memory_mb,
        )

    def webhook_delays(self) -> tuple[float, ...]:
        try:
            return tuple(float(item) for item in _items(self.webhook_retry_delays))
        except ValueError:
            raise ValueError(
                "CALLBOX_WEBHOOK_RETRY_DELAYS must be seconds separated by commas; found "
                f"{self.webhook_retry_delays!r}"
            ) from None

    def index_args(self) -> list[str]:
        """Arguments telling uv where packages come from."""
        args = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        if self.find_links:
            args += ["--find-links", self.find_links]
        if self.no_index:
            args.append("--no-index")
        return args


# Settings of the server itself; code it runs for users (functions, package builds) must not
# see them: CALLBOX_AUTH_TOKEN is the owner's token, CALLBOX_SECRET_KEY unlocks every secret.
_PRIVATE_PREFIXES = (_ENV_PREFIX, "TWILIO_")


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for processes that run users' code: the server's, minus its secrets."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not k.upper().startswith(_PRIVATE_PREFIXES)}


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "callbox")


def _coerce(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            word = raw.strip().lower()
            if word in {"1", "true", "yes", "on"}:
                return True
            if word in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"{_ENV_PREFIX}{name.upper()} must be a {kind}; found {raw!r}") from exc
    return raw
