"""The feature store: features defined once for batch and live events, point-in-time training sets, online
serving, and a catalog with statistics.

    from nbmlops.features import FeatureSet, FeatureVector, Window, Expr, get_offline_features
    tx = FeatureSet("transactions", entities=["customer_id"], timestamp="ts",
                    features=["amount", Expr("big", "amount > 100"),
                              Window("amount", ["sum", "count"], ["1h", "7d"])])
    tx.ingest(df)                       # or tx.push({...}); store=FeatureStore(home) for another store
    vec = FeatureVector("churn", ["transactions.amount_sum_7d", "transactions.big"], label="churned")
    train = get_offline_features(vec, entity_df, timestamp_column="ts")

A set without a feature list (or with "*" in it) takes the other columns of its first ingested frame. 'set.f'
reads the set's current version (the one last ingested); 'set@v1.f' pins one. The catalog (definitions,
versions, current versions, vectors) lives in the project's metadata database; the data under the artifact root.
"""

from nbmlops.features.api import (
    catalog,
    default_store,
    describe,
    explain_training_set,
    flush,
    get_offline_features,
    get_online_features,
    latest_values,
    parity,
    vector_users,
)
from nbmlops.features.catalog import FeatureInfo, SetInfo, VersionInfo
from nbmlops.features.definitions import AGGREGATIONS, Expr, FeatureSet, Transform, Window, transform
from nbmlops.features.errors import FeatureError
from nbmlops.features.offline import IngestRecord
from nbmlops.features.online_features import OnlineFeatures
from nbmlops.features.parity import ParityReport
from nbmlops.features.pit_report import PointInTimeReport
from nbmlops.features.store import FeatureStore
from nbmlops.features.vectors import FeatureVector

__all__ = [
    "AGGREGATIONS",
    "Expr",
    "FeatureError",
    "FeatureInfo",
    "FeatureSet",
    "FeatureStore",
    "FeatureVector",
    "IngestRecord",
    "OnlineFeatures",
    "ParityReport",
    "PointInTimeReport",
    "SetInfo",
    "Transform",
    "VersionInfo",
    "Window",
    "catalog",
    "default_store",
    "describe",
    "explain_training_set",
    "flush",
    "get_offline_features",
    "get_online_features",
    "latest_values",
    "parity",
    "transform",
    "vector_users",
]
