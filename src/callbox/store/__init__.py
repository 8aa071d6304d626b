"""The control plane's memory: SQL tables (SQLAlchemy Core, Alembic), blobs, secrets."""
