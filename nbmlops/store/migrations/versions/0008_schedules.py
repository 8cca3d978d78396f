"""Schedules and their occurrences (the lease rows that make each occurrence run once), and what triggered a run.

schedules: one row per named schedule: the notebook or spec it runs, cron and time zone, parameters, backend,
catch-up and retry policy, triggers besides time (JSON), trigger state (JSON: files seen, watermarks), the cron cursor
(the last cron occurrence handled, epoch seconds) and the last error.

schedule_occurrences: one row per (schedule, key), the key naming the occurrence ("cron:2027-01-01T03:00:00+00:00",
"files:<digest>", "drift:<result id>", "after:<run id>", "manual:<time>"). The unique key is the claim: of several
schedulers inserting the same occurrence, one insert wins. A running occurrence holds a lease (owner,
lease_until) its scheduler renews; a lease past its time is taken over by another scheduler.

runs.trigger: JSON, what started a scheduled run (schedule, occurrence time, files, drift result, upstream run).

Revision ID: 0008_schedules
Revises: 0007_feature_catalog
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_schedules"
down_revision = "0007_feature_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("cron", sa.String(255)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("catchup", sa.String(8), nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("retry_delay", sa.Float, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("triggers", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("cron_cursor", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )
    op.create_table(
        "schedule_occurrences",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurrence_at", sa.Float, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("lease_until", sa.Float),
        sa.Column("next_attempt_at", sa.Float),
        sa.Column("run_id", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_occurrences"),
        sa.UniqueConstraint("schedule", "key", name="uq_schedule_occurrences_schedule_key"),
        sa.ForeignKeyConstraint(
            ["schedule"], ["schedules.name"], name="fk_schedule_occurrences_schedule_schedules", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_schedule_occurrences_status", "schedule_occurrences", ["status", "lease_until"])
    op.create_index("ix_schedule_occurrences_schedule_id", "schedule_occurrences", ["schedule", "id"])
    op.add_column("runs", sa.Column("trigger", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trigger")
    op.drop_index("ix_schedule_occurrences_schedule_id", "schedule_occurrences")
    op.drop_index("ix_schedule_occurrences_status", "schedule_occurrences")
    op.drop_table("schedule_occurrences")
    op.drop_table("schedules")
