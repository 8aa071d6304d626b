"""the Debugger: alerts, and each account's webhook

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("sid", sa.String(34), primary_key=True),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=True),
        sa.Column("environment_sid", sa.String(34), nullable=True),
        sa.Column("build_sid", sa.String(34), nullable=True),
        sa.Column("deployment_sid", sa.String(34), nullable=True),
        sa.Column("function_sid", sa.String(34), nullable=True),
        sa.Column("request_sid", sa.String(34), nullable=True),
        sa.Column("log_level", sa.String(8), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("alert_text", sa.Text(), nullable=False),
        sa.Column("request_url", sa.Text(), nullable=True),
        sa.Column("request_method", sa.String(16), nullable=True),
        sa.Column("date_created", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_alerts_account_date", "alerts", ["account_sid", "date_created"])
    op.create_table(
        "debugger_webhooks",
        sa.Column("account_sid", sa.String(34), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_updated", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("debugger_webhooks")
    op.drop_index("ix_alerts_account_date", "alerts")
    op.drop_table("alerts")
