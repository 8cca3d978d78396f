"""What a cached step carries over: the step a reused step's records came from (the original execution, followed
through chains of cached runs), and the step that logged each param and tag, so a cache hit can copy exactly
what the producing step logged onto the new run.

Revision ID: 0006_reused_step_records
Revises: 0005_metrics_latest_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reused_step_records"
down_revision = "0005_metrics_latest_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns only: SQLite adds them with a plain ALTER TABLE, no table copy
    op.add_column("steps", sa.Column("reused_from_run", sa.String(64)))
    op.add_column("steps", sa.Column("reused_from_step", sa.String(255)))
    op.add_column("params", sa.Column("step_name", sa.String(255)))
    op.add_column("tags", sa.Column("step_name", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("step_name")
    with op.batch_alter_table("params") as batch:
        batch.drop_column("step_name")
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("reused_from_step")
        batch.drop_column("reused_from_run")
