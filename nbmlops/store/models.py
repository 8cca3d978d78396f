"""The metadata schema (SQLAlchemy Core tables). Alembic migrations build it; this module must match head.

Core rather than ORM: log_metric is a hot path, and a compiled insert of a Table is several times cheaper than
an ORM flush. Times are float seconds since the epoch (UTC); run ids are strings chosen by the caller.
"""

from __future__ import annotations

import sqlalchemy as sa

# Explicit constraint names so later migrations (and SQLite batch mode) can refer to them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("kind", sa.String(16), nullable=False, server_default="run"),  # 'run' | 'pipeline'
    sa.Column("pipeline", sa.String(255), index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("notebook_path", sa.Text),
    sa.Column("notebook_sha256", sa.String(64)),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Column("backend", sa.String(32)),
    sa.Column("started_at", sa.Float, nullable=False, index=True),
    sa.Column("ended_at", sa.Float),
    sa.Column("duration", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.String(255)),
    sa.Column("python_version", sa.String(32)),
    sa.Column("nbmlops_version", sa.String(32)),
    sa.Column("packages", sa.Text),  # JSON {distribution: version}
    sa.Column("parent_run_id", sa.String(64), index=True),
    sa.Column("resumed_from", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("trigger", sa.Text),  # JSON: what started a scheduled run (schedule, occurrence, files, drift ...)
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("duration", sa.Float),
    sa.Column("cache_hit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cache_key", sa.String(64), index=True),
    sa.Column("attempts", sa.Integer),
    sa.Column("inputs", sa.Text),  # JSON {variable: sha256}
    sa.Column("outputs", sa.Text),  # JSON {variable: sha256}
    sa.Column("stdout_path", sa.Text),
    sa.Column("stderr_path", sa.Text),
    sa.Column("error", sa.Text),
    # a step taken from the cache (or from the run it resumes): the step execution that logged its records
    sa.Column("reused_from_run", sa.String(64)),
    sa.Column("reused_from_step", sa.String(255)),
    sa.UniqueConstraint("run_id", "name"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text),  # JSON, so 0.1, "0.1" and [1, 2] come back as they went in
    sa.Column("value_num", sa.Float),  # numbers (and bools) again, for `params.lr > 0.01` filters
    sa.Column("step_name", sa.String(255)),  # the pipeline step that logged it, if any
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", sa.String(255)),  # the pipeline step that logged it, if any
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.Float),  # NULL is NaN: SQLite stores NaN as NULL
    sa.Column("step", sa.Integer),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Index("ix_metrics_run_key_id", "run_id", "key", "id"),  # the latest value of a key: one seek
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("step_name", sa.String(255)),  # the pipeline step that set it, if any
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("step_name", sa.String(255)),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("path", sa.Text, nullable=False),  # where the blob lives, as the artifact store sees it
    sa.Column("created_at", sa.Float, nullable=False),
)

lineage = sa.Table(
    "lineage",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("from_kind", sa.String(32), nullable=False),  # run | value | notebook | commit | model_version ...
    sa.Column("from_id", sa.String(255), nullable=False),
    sa.Column("to_kind", sa.String(32), nullable=False),
    sa.Column("to_id", sa.String(255), nullable=False),
    sa.Column("relation", sa.String(32), nullable=False),  # input | output | code | commit | parent ...
    sa.Column("name", sa.Text),  # e.g. the variable a value was bound to
    sa.Column("run_id", sa.String(64), index=True),  # the run that recorded the edge: deleted with it
    sa.Column("step_name", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_lineage_from", "from_kind", "from_id"),
    sa.Index("ix_lineage_to", "to_kind", "to_id"),
)
