"""An environment's variables in clear: what the API checks limits against and functions get."""

from __future__ import annotations

import sqlalchemy as sa

from callbox.store.secretbox import SecretBox
from callbox.store.tables import variables


def read_variables(conn: sa.Connection, box: SecretBox, environment_sid: str) -> dict[str, str]:
    query = (
        sa.select(variables.c.key, variables.c.value_sealed)
        .where(variables.c.environment_sid == environment_sid)
        .order_by(variables.c.key)
    )
    return {row.key: box.open(row.value_sealed) for row in conn.execute(query)}
