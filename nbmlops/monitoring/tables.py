"""Monitoring's tables, on the store's one MetaData (migration 0004_monitoring builds them)."""

from __future__ import annotations

import sqlalchemy as sa

from nbmlops.store.models import metadata

monitor_references = sa.Table(
    "monitor_references",
    metadata,
    sa.Column("model_name", sa.String(255), primary_key=True),
    sa.Column("model_version", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("prediction", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
)

drift_results = sa.Table(
    "drift_results",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
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
    sa.Index("ix_drift_results_model", "model_name", "window_end"),
)

drift_features = sa.Table(
    "drift_features",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("result_id", sa.String(64), sa.ForeignKey("drift_results.id", ondelete="CASCADE"), nullable=False),
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
    sa.Index("ix_drift_features_result_id", "result_id"),
    sa.Index("ix_drift_features_series", "model_name", "feature", "window_end"),
)

monitor_settings = sa.Table(
    "monitor_settings",
    metadata,
    sa.Column("model_name", sa.String(255), primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
