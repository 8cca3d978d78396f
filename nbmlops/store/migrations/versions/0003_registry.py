"""The model registry: registered models (with their version counter), versions, aliases and version tags.

Revision ID: 0003_registry
Revises: 0002_artifacts_lineage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_registry"
down_revision = "0002_artifacts_lineage"
branch_labels = None
depends_on = None


def _model_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name"], ["registered_models.name"], name=f"fk_{table}_name_registered_models", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("model_type", sa.Text),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("artifact_size", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.Text),
        sa.Column("input_example", sa.Text),
        sa.Column("metrics", sa.Text),
        sa.Column("params", sa.Text),
        sa.Column("data_sha256", sa.String(64)),
        sa.Column("reference_sha256", sa.String(64)),
        sa.Column("reference_format", sa.String(16)),
        sa.Column("profile", sa.Text),
        sa.Column("notebook_path", sa.Text),
        sa.Column("notebook_sha256", sa.String(64)),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        _model_fk("model_versions"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_artifact_sha256", "model_versions", ["artifact_sha256"])
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_model_aliases"),
        _model_fk("model_aliases"),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
        _model_fk("model_version_tags"),
    )


def downgrade() -> None:
    op.drop_table("model_version_tags")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
