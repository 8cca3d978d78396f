"""Alembic environment: always given a live connection by nbmlops.store.db (no ini file, no URL here)."""

from __future__ import annotations

from alembic import context

from nbmlops.store.migrations import VERSION_TABLE
from nbmlops.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("nbmlops migrations run through nbmlops.store.db.upgrade(), which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
