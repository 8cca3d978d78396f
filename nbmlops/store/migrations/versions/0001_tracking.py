"""Runs, steps, params, metrics and tags.

Revision ID: 0001_tracking
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_tracking"
down_revision = None
branch_labels = None
depends_on = None


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("kind", sa.String(16), nullable=False, server_default="run"),
        sa.Column("pipeline", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("notebook_path", sa.Text),
        sa.Column("notebook_sha256", sa.String(64)),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("git_dirty", sa.Boolean),
        sa.Column("backend", sa.String(32)),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("duration", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
        sa.Column("python_version", sa.String(32)),
        sa.Column("nbmlops_version", sa.String(32)),
        sa.Column("packages", sa.Text),
        sa.Column("parent_run_id", sa.String(64)),
        sa.Column("resumed_from", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    for column in ("pipeline", "status", "started_at", "parent_run_id"):
        op.create_index(f"ix_runs_{column}", "runs", [column])

    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("duration", sa.Float),
        sa.Column("cache_hit", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("attempts", sa.Integer),
        sa.Column("inputs", sa.Text),
        sa.Column("outputs", sa.Text),
        sa.Column("stdout_path", sa.Text),
        sa.Column("stderr_path", sa.Text),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_steps_run_id_runs", ondelete="CASCADE"),
        sa.UniqueConstraint("run_id", "name", name="uq_steps_run_id_name"),
    )
    op.create_index("ix_steps_cache_key", "steps", ["cache_key"])

    op.create_table(
        "params",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("value_num", sa.Float),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_params"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_params_run_id_runs", ondelete="CASCADE"),
    )

    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_name", sa.String(255)),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("step", sa.Integer),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_metrics_run_id_runs", ondelete="CASCADE"),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])

    op.create_table(
        "tags",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_tags"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_tags_run_id_runs", ondelete="CASCADE"),
    )


def downgrade() -> None:
    for table in ("tags", "metrics", "params", "steps", "runs"):
        op.drop_table(table)
