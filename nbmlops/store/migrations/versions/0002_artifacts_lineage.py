"""Content-addressed artifacts of a run, and lineage edges.

Revision ID: 0002_artifacts_lineage
Revises: 0001_tracking
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_artifacts_lineage"
down_revision = "0001_tracking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_name", sa.String(255)),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_artifacts_run_id_runs", ondelete="CASCADE"),
    )
    op.create_index("ix_artifacts_run_id", "artifacts", ["run_id"])
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])

    op.create_table(
        "lineage",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("from_kind", sa.String(32), nullable=False),
        sa.Column("from_id", sa.String(255), nullable=False),
        sa.Column("to_kind", sa.String(32), nullable=False),
        sa.Column("to_id", sa.String(255), nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("run_id", sa.String(64)),
        sa.Column("step_name", sa.String(255)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage"),
    )
    op.create_index("ix_lineage_from", "lineage", ["from_kind", "from_id"])
    op.create_index("ix_lineage_to", "lineage", ["to_kind", "to_id"])
    op.create_index("ix_lineage_run_id", "lineage", ["run_id"])


def downgrade() -> None:
    op.drop_table("lineage")
    op.drop_table("artifacts")
