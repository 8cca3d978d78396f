"""The feature catalog's tables, on the store's one MetaData (migration 0007_feature_catalog builds them).

    feature_sets             one row per set: `current_version`, the version 'set.feature' reads (last ingested)
    feature_set_versions     one row per version: its definition (JSON), the columns it inferred at its first
                             ingest (JSON; NULL until then), column types and cached statistics (JSON)
    feature_vectors          the vectors read so far: their references and label
    feature_catalog_imports  the artifact roots whose JSON catalogs (before 0007) were imported, once each

catalog_db.py reads and writes these with plain SQL; this module is the schema the migrations must match.
"""

from __future__ import annotations

import sqlalchemy as sa

from nbmlops.store.models import metadata

feature_sets = sa.Table(
    "feature_sets",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("current_version", sa.Integer),  # NULL until something is ingested or pushed: the newest reads
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

feature_set_versions = sa.Table(
    "feature_set_versions",
    metadata,
    sa.Column("name", sa.String(255), sa.ForeignKey("feature_sets.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # of the schema-deciding part of the definition
    sa.Column("definition", sa.Text, nullable=False),  # JSON: FeatureSet.spec()
    sa.Column("inferred", sa.Text),  # JSON list; set once, by the first writer (UPDATE ... WHERE inferred IS NULL)
    sa.Column("dtypes", sa.Text, nullable=False),  # JSON {column: kind}
    sa.Column("stats", sa.Text),  # JSON {"state": hash of the ingests, "features": {...}}: a cache
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", "fingerprint"),
)

feature_vectors = sa.Table(
    "feature_vectors",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("features", sa.Text, nullable=False),  # JSON list of references
    sa.Column("label", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

feature_catalog_imports = sa.Table(
    "feature_catalog_imports",
    metadata,
    sa.Column("root", sa.String(1000), primary_key=True),  # the artifact root, as FeatureStore names it
    sa.Column("sets", sa.Integer, nullable=False),
    sa.Column("vectors", sa.Integer, nullable=False),
    sa.Column("imported_at", sa.Float, nullable=False),
)
