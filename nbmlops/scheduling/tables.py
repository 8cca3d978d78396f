"""Scheduling's tables, on the store's one MetaData (migration 0008_schedules builds them)."""

from __future__ import annotations

import sqlalchemy as sa

from nbmlops.store.models import metadata

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("target", sa.Text, nullable=False),  # absolute path of the notebook or pipeline.json
    sa.Column("cron", sa.String(255)),  # None: runs only on its triggers (or run-now)
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON {name: value}, already typed by the parameters cell
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("catchup", sa.String(8), nullable=False),  # skip | once | all
    sa.Column("retries", sa.Integer, nullable=False),
    sa.Column("retry_delay", sa.Float, nullable=False),  # seconds before the first retry; doubles after
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("triggers", sa.Text, nullable=False),  # JSON list of {"kind": files|drift|after, ...}
    sa.Column("state", sa.Text, nullable=False),  # JSON: files seen, watermarks of the triggers
    sa.Column("cron_cursor", sa.Float, nullable=False),  # the last cron occurrence handled (epoch seconds)
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

schedule_occurrences = sa.Table(
    "schedule_occurrences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(255), sa.ForeignKey("schedules.name", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),  # unique per schedule: the claim
    sa.Column("kind", sa.String(16), nullable=False),  # cron | files | drift | after | manual
    sa.Column("occurrence_at", sa.Float, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),  # JSON, copied onto the run
    sa.Column("status", sa.String(16), nullable=False),  # running | retrying | succeeded | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("owner", sa.String(255)),  # the scheduler holding the lease
    sa.Column("lease_until", sa.Float),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("run_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.UniqueConstraint("schedule", "key"),
    sa.Index("ix_schedule_occurrences_status", "status", "lease_until"),
    sa.Index("ix_schedule_occurrences_schedule_id", "schedule", "id"),
)
