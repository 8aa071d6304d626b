"""several nodes on one database: blobs in the database, the change feed, nodes and build claims

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("builds") as batch:
        batch.add_column(sa.Column("node", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
    # Builds that exist are done or were claimed by the one node there was.
    op.execute("UPDATE builds SET node = 'before-0005' WHERE status = 'building'")
    op.create_index("ix_logs_seq", "logs", ["seq"])
    op.create_index("ix_builds_status", "builds", ["status"])


def downgrade() -> None:
    op.drop_index("ix_builds_status", "builds")
    op.drop_index("ix_logs_seq", "logs")
    with op.batch_alter_table("builds") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("node")
    op.drop_table("nodes")
    op.drop_table("changes")
    op.drop_table("blobs")
