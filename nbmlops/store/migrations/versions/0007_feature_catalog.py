"""The feature catalog: feature sets with their current-version pointer, their versions (definition, inferred
columns, column types, cached statistics), feature vectors, and which artifact roots' JSON catalogs were imported.

Catalogs written before this revision are JSON files under an artifact root (features/catalog/, features/vectors/).
They are imported by the feature store the first time it opens that root on this database
(nbmlops.features.catalog_import), not here: a database does not know its project's artifact root (a PostgreSQL
one is shared by projects, the root comes from the settings of whoever opens it, and a new SQLite store is made
from saved DDL without running migrations at all). feature_catalog_imports records each root imported, once.

Revision ID: 0007_feature_catalog
Revises: 0006_reused_step_records
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_feature_catalog"
down_revision = "0006_reused_step_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_sets",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("current_version", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_feature_sets"),
    )
    op.create_table(
        "feature_set_versions",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("inferred", sa.Text),
        sa.Column("dtypes", sa.Text, nullable=False),
        sa.Column("stats", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_feature_set_versions"),
        sa.UniqueConstraint("name", "fingerprint", name="uq_feature_set_versions_name_fingerprint"),
        sa.ForeignKeyConstraint(
            ["name"], ["feature_sets.name"], name="fk_feature_set_versions_name_feature_sets", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "feature_vectors",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_feature_vectors"),
    )
    op.create_table(
        "feature_catalog_imports",
        sa.Column("root", sa.String(1000), nullable=False),
        sa.Column("sets", sa.Integer, nullable=False),
        sa.Column("vectors", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("root", name="pk_feature_catalog_imports"),
    )


def downgrade() -> None:
    op.drop_table("feature_catalog_imports")
    op.drop_table("feature_vectors")
    op.drop_table("feature_set_versions")
    op.drop_table("feature_sets")
