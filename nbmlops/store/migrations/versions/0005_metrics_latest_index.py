"""The metrics index on (run_id, key, id) instead of (run_id, key, step): the latest value of a key in a run (the
highest id) is one index seek, for run searches and listings however long the history; no query looked metrics up
by step.

Revision ID: 0005_metrics_latest_index
Revises: 0004_monitoring
"""

from __future__ import annotations

from alembic import op

revision = "0005_metrics_latest_index"
down_revision = "0004_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_metrics_run_key_id", "metrics", ["run_id", "key", "id"])
    op.drop_index("ix_metrics_run_key_step", table_name="metrics")


def downgrade() -> None:
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.drop_index("ix_metrics_run_key_id", table_name="metrics")
