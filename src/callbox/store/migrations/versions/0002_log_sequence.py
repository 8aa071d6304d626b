"""log lines carry their recording order (seq): a live stream catches up by it

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_logs_environment_seq", ["environment_sid", "seq"], unique=False)
    # Lines written before this revision: their order of time is the best there is.
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("UPDATE logs SET seq = rowid")
    else:
        op.execute(
            "UPDATE logs SET seq = ordered.n FROM (SELECT sid, ROW_NUMBER() OVER "
            "(ORDER BY date_created, sid) AS n FROM logs) AS ordered "
            "WHERE logs.sid = ordered.sid"
        )


def downgrade() -> None:
    with op.batch_alter_table("logs", schema=None) as batch_op:
        batch_op.drop_index("ix_logs_environment_seq")
        batch_op.drop_column("seq")
