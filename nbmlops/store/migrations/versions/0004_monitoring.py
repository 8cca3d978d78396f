"""Drift monitoring: reference profiles per model version, drift results as a time series per model, feature and
window, and per-model alert settings.

Revision ID: 0004_monitoring
Revises: 0003_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_monitoring"
down_revision = "0003_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_references",
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("prediction", sa.String(255)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("model_name", "model_version", name="pk_monitor_references"),
    )
    op.create_table(
        "drift_results",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(255)),
        sa.Column("model_version", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("window", sa.String(64)),
        sa.Column("window_start", sa.Float),
        sa.Column("window_end", sa.Float, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("n_reference", sa.BigInteger, nullable=False),
        sa.Column("n_current", sa.BigInteger, nullable=False),
        sa.Column("n_features", sa.Integer, nullable=False),
        sa.Column("n_drifted", sa.Integer, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("share_threshold", sa.Float, nullable=False),
        sa.Column("dataset_drift", sa.Boolean, nullable=False),
        sa.Column("prediction_drift", sa.Boolean),
        sa.Column("metrics", sa.Text),
        sa.Column("alert", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("seconds", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_drift_results"),
    )
    op.create_index("ix_drift_results_model", "drift_results", ["model_name", "window_end"])
    op.create_table(
        "drift_features",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("result_id", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(255)),
        sa.Column("window_end", sa.Float, nullable=False),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dtype", sa.String(64)),
        sa.Column("test", sa.String(32)),
        sa.Column("statistic", sa.Float),
        sa.Column("p_value", sa.Float),
        sa.Column("score", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("drifted", sa.Boolean, nullable=False),
        sa.Column("effect_size", sa.Float),
        sa.Column("effect_metric", sa.String(32)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("n_reference", sa.BigInteger),
        sa.Column("n_current", sa.BigInteger),
        sa.Column("missing_reference", sa.Float),
        sa.Column("missing_current", sa.Float),
        sa.Column("unseen_current", sa.Float),
        sa.Column("plot", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_drift_features"),
        sa.ForeignKeyConstraint(
            ["result_id"], ["drift_results.id"], name="fk_drift_features_result_id_drift_results", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_drift_features_result_id", "drift_features", ["result_id"])
    op.create_index("ix_drift_features_series", "drift_features", ["model_name", "feature", "window_end"])
    op.create_table(
        "monitor_settings",
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("model_name", name="pk_monitor_settings"),
    )


def downgrade() -> None:
    op.drop_table("monitor_settings")
    op.drop_table("drift_features")
    op.drop_table("drift_results")
    op.drop_table("monitor_references")
