"""The tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Times are naive UTC ``DateTime`` values with microseconds (lists sort by creation, logs need
sub-second order). Secrets are stored sealed (``*_sealed`` columns, see secretbox.py).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

SID = sa.String(34)


def _dates() -> list[sa.Column[object]]:
    return [
        sa.Column("date_created", sa.DateTime, nullable=False),
        sa.Column("date_updated", sa.DateTime, nullable=False),
    ]


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("friendly_name", sa.String(255), nullable=False),
    sa.Column("auth_token_sealed", sa.Text, nullable=False),
    sa.Column("owner_account_sid", SID, nullable=True),  # None: the owner account itself
    sa.Column("status", sa.String(16), nullable=False),
    *_dates(),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, sa.ForeignKey("accounts.sid"), nullable=False, index=True),
    sa.Column("friendly_name", sa.String(255), nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    *_dates(),
)

services = sa.Table(
    "services",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("unique_name", sa.String(50), nullable=False),
    sa.Column("friendly_name", sa.String(255), nullable=False),
    sa.Column("include_credentials", sa.Boolean, nullable=False),
    sa.Column("ui_editable", sa.Boolean, nullable=False),
    sa.Column("domain_base", sa.String(64), nullable=False, unique=True),
    *_dates(),
    sa.UniqueConstraint("account_sid", "unique_name"),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False, index=True),
    sa.Column("unique_name", sa.String(100), nullable=False),
    sa.Column("domain_suffix", sa.String(16), nullable=True),
    sa.Column("domain_name", sa.String(255), nullable=False, unique=True),
    sa.Column("build_sid", SID, nullable=True),
    sa.Column("deployment_sid", SID, nullable=True),
    *_dates(),
    sa.UniqueConstraint("service_sid", "unique_name"),
)

# Functions and Assets: named containers of versions; ``kind`` tells them apart.
resources = sa.Table(
    "resources",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # function | asset
    sa.Column("friendly_name", sa.String(255), nullable=False),
    *_dates(),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False),
    sa.Column("resource_sid", SID, nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("date_created", sa.DateTime, nullable=False),
)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # building | completed | failed
    sa.Column("runtime", sa.String(32), nullable=False),
    sa.Column("dependencies", sa.Text, nullable=False),  # JSON [{name, version}]
    sa.Column("error", sa.Text, nullable=True),  # why it failed, one readable paragraph
    sa.Column("log", sa.Text, nullable=False, default=""),
    *_dates(),
    # The node running it (None: queued, any node may claim it) and since when, by the
    # database's clock (builds/builder.py: one node per build; a dead node's build fails).
    sa.Column("node", sa.String(128), nullable=True),
    sa.Column("claimed_at", sa.DateTime, nullable=True),
    sa.Index("ix_builds_status", "status"),
)

build_versions = sa.Table(
    "build_versions",
    metadata,
    sa.Column("build_sid", SID, nullable=False, index=True),
    sa.Column("version_sid", SID, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("build_sid", "version_sid"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False),
    sa.Column("environment_sid", SID, nullable=False, index=True),
    sa.Column("build_sid", SID, nullable=False),
    *_dates(),
)

variables = sa.Table(
    "variables",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False),
    sa.Column("environment_sid", SID, nullable=False, index=True),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value_sealed", sa.Text, nullable=False),
    *_dates(),
    sa.UniqueConstraint("environment_sid", "key"),
)

logs = sa.Table(
    "logs",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=False),
    sa.Column("environment_sid", SID, nullable=False),
    sa.Column("build_sid", SID, nullable=True),
    sa.Column("deployment_sid", SID, nullable=True),
    sa.Column("function_sid", SID, nullable=True),
    sa.Column("request_sid", SID, nullable=True),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("date_created", sa.DateTime, nullable=False),
    # The order lines were recorded in (a live stream's order): a reader that fell behind or
    # reconnected catches up by it, since a line's own time may be earlier than one already
    # sent (invocations finish in another order than they print).
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Index("ix_logs_environment_date", "environment_sid", "date_created"),
    sa.Index("ix_logs_environment_seq", "environment_sid", "seq"),
    sa.Index("ix_logs_seq", "seq"),
)

# Who runs as which sandbox uid (CALLBOX_SANDBOX_UID_BASE + slot): every service and every
# account gets its own slot, never reused, the same on every node.
sandbox_slots = sa.Table(
    "sandbox_slots",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner_sid", SID, nullable=False, unique=True),
    sqlite_autoincrement=True,  # never reuse a slot, even the highest one's
)

# The Debugger: an alert per WARN/ERROR line and per failed invocation (Monitor v1 Alerts).
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("sid", SID, primary_key=True),
    sa.Column("account_sid", SID, nullable=False),
    sa.Column("service_sid", SID, nullable=True),
    sa.Column("environment_sid", SID, nullable=True),
    sa.Column("build_sid", SID, nullable=True),
    sa.Column("deployment_sid", SID, nullable=True),
    sa.Column("function_sid", SID, nullable=True),
    sa.Column("request_sid", SID, nullable=True),
    sa.Column("log_level", sa.String(8), nullable=False),  # error | warning
    sa.Column("error_code", sa.Integer, nullable=False),
    sa.Column("alert_text", sa.Text, nullable=False),
    sa.Column("request_url", sa.Text, nullable=True),
    sa.Column("request_method", sa.String(16), nullable=True),
    sa.Column("date_created", sa.DateTime, nullable=False),
    sa.Index("ix_alerts_account_date", "account_sid", "date_created"),
)

# An account's Debugger webhook: every alert is posted there (signed), retried on failure.
debugger_webhooks = sa.Table(
    "debugger_webhooks",
    metadata,
    sa.Column("account_sid", SID, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    *_dates(),
)

# Version contents on PostgreSQL (store/blobs.py): every node reads them from here and keeps a
# copy in its data folder. With SQLite the data folder's files are the store and this is empty.
blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("date_created", sa.DateTime, nullable=False),
)

# What changed in what is served (store/changes.py), in commit order: every node reads the rows
# after the last one it saw (woken by NOTIFY, or by its own polling) and forgets what it cached.
changes = sa.Table(
    "changes",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # deployment | variables | environment ...
    sa.Column("sid", SID, nullable=False),  # the environment or service it concerns
    sa.Column("date_created", sa.DateTime, nullable=False),
    sqlite_autoincrement=True,  # a purged table must not hand out old numbers again
)

# The nodes serving from this database (cluster/nodes.py): each writes seen_at every few
# seconds; one silent for longer than the node timeout is dead, and its builds fail.
nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("seen_at", sa.DateTime, nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
)
