"""every service and account gets a sandbox slot (its own uid)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_slots",
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner_sid", sa.String(34), nullable=False, unique=True),
        sqlite_autoincrement=True,
    )
    # Slot 0 is `callbox start`'s; what exists gets 1, 2, ... in order of creation.
    op.execute(
        "INSERT INTO sandbox_slots (owner_sid) SELECT sid FROM (SELECT sid, date_created "
        "FROM accounts UNION ALL SELECT sid, date_created FROM services) AS owners "
        "ORDER BY date_created, sid"
    )


def downgrade() -> None:
    op.drop_table("sandbox_slots")
