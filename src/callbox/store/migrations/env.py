"""Alembic environment: callbox hands over an open connection (see store/db.py ``migrate``)."""

from alembic import context

from callbox.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
