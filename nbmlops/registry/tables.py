"""The registry's tables, on the store's one MetaData (migration 0003_registry builds them).

A model's `last_version` is its version counter: a registration increments it in the same transaction that
inserts the version row, so two processes registering at once get distinct numbers (SQLite serialises write
transactions; on PostgreSQL the UPDATE takes the model row's lock). Numbers are never reused after a delete.
"""

from __future__ import annotations

import sqlalchemy as sa

from nbmlops.store.models import metadata


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("registered_models.name", ondelete="CASCADE")


registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), _model_fk(), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("run_id", sa.String(64), index=True),  # no foreign key: a version outlives its run's deletion
    sa.Column("format", sa.String(16), nullable=False),  # joblib | pickle
    sa.Column("model_type", sa.Text),
    sa.Column("artifact_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("signature", sa.Text),  # JSON
    sa.Column("input_example", sa.Text),  # JSON: a few rows, as records
    sa.Column("metrics", sa.Text),  # JSON
    sa.Column("params", sa.Text),  # JSON
    sa.Column("data_sha256", sa.String(64)),  # the training (reference) data's hash
    sa.Column("reference_sha256", sa.String(64)),  # the reference data blob (Parquet / .npy) in the artifact store
    sa.Column("reference_format", sa.String(16)),
    sa.Column("profile", sa.Text),  # JSON: the reference data profile for drift monitoring
    sa.Column("notebook_path", sa.Text),
    sa.Column("notebook_sha256", sa.String(64)),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("description", sa.Text),
    sa.UniqueConstraint("name", "version"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(255), _model_fk(), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

model_version_tags = sa.Table(
    "model_version_tags",
    metadata,
    sa.Column("name", sa.String(255), _model_fk(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text),
)

model_alias_history = sa.Table(  # every move or removal of an alias: who and when (migration 0009)
    "model_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer),  # NULL: the alias was removed
    sa.Column("previous_version", sa.Integer),  # NULL: the alias was new
    sa.Column("moved_by", sa.String(255)),
    sa.Column("moved_at", sa.Float, nullable=False),
    sa.Index("ix_model_alias_history_name_id", "name", "id"),
)
