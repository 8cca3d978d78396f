"""Drift results as a time series in the store (per model, feature and window), reference profiles per model
version (blob in the artifact store, row in monitor_references), and per-model alert settings.

Monitoring owns these tables (nbmlops.monitoring.tables): writes are Core statements in the store's transactions
(Database.transaction), and when the registry deletes a model version or a model, `delete_model_monitoring`
(registered with nbmlops.registry.dependents on import) deletes their rows in that same transaction."""

from __future__ import annotations

import json
import math
import secrets
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbmlops.monitoring.drift import COLUMNS, DriftResult
from nbmlops.monitoring.errors import UnknownDriftResult
from nbmlops.monitoring.reference import ReferenceProfile
from nbmlops.registry.dependents import on_model_deleted

if TYPE_CHECKING:
    from nbmlops.store import Store
    from nbmlops.store.db import Tx

DRIFT_RESULT = "drift_result"  # the lineage node kind of a stored result; its id is the result id


def _tables() -> Any:
    from nbmlops.monitoring import tables

    return tables


def _clean(value: Any) -> Any:
    """NaN and numpy scalars to what every SQL driver stores (NaN -> NULL)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def new_result_id() -> str:
    return "drift-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def save_result(
    store: Store,
    result: DriftResult,
    *,
    model_name: str | None = None,
    model_version: int | None = None,
    window: str | None = None,
    window_start: float | None = None,
    window_end: float | None = None,
    source: str | None = None,
    metrics: dict[str, float] | None = None,
    alert: bool = False,
) -> str:
    """Store one result (a summary row and a row per column, in one transaction); returns its id."""
    t = _tables()
    result_id = new_result_id()
    now = time.time()
    end = window_end if window_end is not None else now
    features = result.table[(result.table["role"] == "feature") & (result.table["status"] == "ok")]
    summary = {
        "id": result_id,
        "model_name": model_name,
        "model_version": model_version,
        "created_at": now,
        "window": window,
        "window_start": window_start,
        "window_end": end,
        "source": source,
        "n_reference": result.n_reference,
        "n_current": result.n_current,
        "n_features": len(features),
        "n_drifted": int(features["drifted"].sum()),
        "drift_share": result.drift_share,
        "share_threshold": result.share_threshold,
        "dataset_drift": result.dataset_drift,
        "prediction_drift": result.prediction_drift,
        "alert": alert,
        "seconds": result.seconds,
        "metrics": json.dumps({k: _finite(_clean(v)) for k, v in (metrics or {}).items()}, allow_nan=False)
        if metrics
        else None,  # strict JSON text: a non-finite metric is null
    }
    rows = []
    for record in result.table.to_dict("records"):
        row = {k: _clean(record[k]) for k in COLUMNS}
        row["drifted"] = bool(row["drifted"])
        plot = result.plots.get(record["feature"])
        rows.append(
            {
                **row,
                "result_id": result_id,
                "model_name": model_name,
                "window_end": end,
                "plot": json.dumps(plot) if plot else None,
            }
        )

    def write(tx: Tx) -> None:
        tx.execute(t.drift_results.insert().values(summary))
        tx.executemany(t.drift_features.insert(), rows)

    store.db.transaction(write)
    return result_id


def set_alert_flag(store: Store, result_id: str, alert: bool) -> None:
    t = _tables()
    store.db.execute(t.drift_results.update().where(t.drift_results.c.id == result_id).values(alert=alert))


def list_results(store: Store, model_name: str | None = None, *, limit: int | None = None) -> pd.DataFrame:
    """Stored results, newest window first."""
    import sqlalchemy as sa

    t = _tables()
    r = t.drift_results
    query = sa.select(r).order_by(r.c.window_end.desc(), r.c.created_at.desc())
    if model_name is not None:
        query = query.where(t.drift_results.c.model_name == model_name)
    if limit is not None:
        query = query.limit(limit)
    rows = store.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])
    frame = pd.DataFrame(rows, columns=[c.name for c in t.drift_results.columns])
    # pandas 3 reads a text column with nulls as str dtype, its nulls as NaN: only text is parsed
    frame["metrics"] = [json.loads(m) if isinstance(m, str) and m else {} for m in frame["metrics"]]
    return frame


def load_result(store: Store, result_id: str) -> tuple[dict[str, Any], DriftResult]:
    """(summary row, DriftResult with its table and plots) of a stored result."""
    import sqlalchemy as sa

    t = _tables()

    def read(conn: Any) -> tuple[Any, list[Any]]:
        head = conn.execute(sa.select(t.drift_results).where(t.drift_results.c.id == result_id)).first()
        body = list(
            conn.execute(
                sa.select(t.drift_features)
                .where(t.drift_features.c.result_id == result_id)
                .order_by(t.drift_features.c.id)
            )
        )
        return head, body

    head, body = store.db.read(read)
    if head is None:
        raise UnknownDriftResult(f"no drift result '{result_id}' in {store.db.where}")
    summary = dict(head._mapping)
    summary["metrics"] = json.loads(summary["metrics"]) if summary["metrics"] else {}
    table = pd.DataFrame([{k: r._mapping[k] for k in COLUMNS} for r in body], columns=COLUMNS)
    table["drifted"] = table["drifted"].astype(bool)
    plots = {r.feature: json.loads(r.plot) for r in body if r.plot}
    result = DriftResult(
        table=table,
        dataset_drift=bool(summary["dataset_drift"]),
        drift_share=summary["drift_share"],
        share_threshold=summary["share_threshold"],
        n_reference=summary["n_reference"],
        n_current=summary["n_current"],
        seconds=summary["seconds"] or 0.0,
        plots=plots,
    )
    return summary, result


def feature_history(store: Store, model_name: str, feature: str | None = None) -> pd.DataFrame:
    """The time series: one row per stored window and column, oldest first."""
    import sqlalchemy as sa

    t = _tables()
    f = t.drift_features
    query = (
        sa.select(
            f.c.result_id,
            f.c.window_end,
            f.c.feature,
            f.c.role,
            f.c.test,
            f.c.score,
            f.c.p_value,
            f.c.threshold,
            f.c.effect_size,
            f.c.drifted,
            f.c.status,
            f.c.missing_current,
            f.c.unseen_current,
        )
        .where(f.c.model_name == model_name)
        .order_by(f.c.window_end, f.c.id)
    )
    if feature is not None:
        query = query.where(f.c.feature == feature)
    rows = store.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])
    return pd.DataFrame(
        rows,
        columns=[
            "result_id",
            "window_end",
            "feature",
            "role",
            "test",
            "score",
            "p_value",
            "threshold",
            "effect_size",
            "drifted",
            "status",
            "missing_current",
            "unseen_current",
        ],
    )


# -- reference profiles per model version ------------------------------------------------------------------------
def save_reference(
    store: Store, name: str, version: int, profile: ReferenceProfile, prediction: str | None = None
) -> str:
    t = _tables()
    blob = store.artifacts.put_bytes(profile.to_bytes())
    row = {
        "model_name": name,
        "model_version": version,
        "sha256": blob.sha256,
        "size": blob.size,
        "rows": profile.rows,
        "columns": json.dumps(list(profile.columns)),
        "prediction": prediction,
        "created_at": time.time(),
    }

    def write(tx: Tx) -> None:
        table = t.monitor_references
        tx.execute(table.delete().where(table.c.model_name == name, table.c.model_version == version))
        tx.execute(table.insert().values(row))

    store.db.transaction(write)
    return blob.sha256


def load_reference(store: Store, name: str, version: int) -> tuple[ReferenceProfile, str | None] | None:
    """(profile, prediction column) stored for the version, or None when it has none yet."""
    import sqlalchemy as sa

    t = _tables()
    table = t.monitor_references
    row = store.db.read(
        lambda c: c.execute(
            sa.select(table).where(table.c.model_name == name, table.c.model_version == version)
        ).first()
    )
    if row is None:
        return None
    from nbmlops.store import ArtifactError

    try:
        payload = store.artifacts.get_bytes(row.sha256)
    except (ArtifactError, FileNotFoundError):
        return None  # the blob was removed: rebuild it from the registered reference data
    return ReferenceProfile.from_bytes(payload), row.prediction


# -- per-model settings -------------------------------------------------------------------------------------------
def get_settings(store: Store, name: str) -> dict[str, Any]:
    import sqlalchemy as sa

    t = _tables()
    table = t.monitor_settings
    row = store.db.read(lambda c: c.execute(sa.select(table.c.config).where(table.c.model_name == name)).first())
    return json.loads(row[0]) if row else {}


def set_settings(store: Store, name: str, config: dict[str, Any]) -> None:
    t = _tables()
    table = t.monitor_settings

    def write(tx: Tx) -> None:
        tx.execute(table.delete().where(table.c.model_name == name))
        tx.execute(table.insert().values(model_name=name, config=json.dumps(config), updated_at=time.time()))

    store.db.transaction(write)


# -- deleted with the registry's versions ------------------------------------------------------------------------
@on_model_deleted
def delete_model_monitoring(tx: Tx, name: str, version: int | None) -> set[str]:
    """In the registry's deleting transaction: the monitoring rows of the deleted version (version None: of every
    version of the model): drift results with their per-feature rows and the lineage edges they own (drift_result
    -> model_version 'monitors'), stored reference profiles, and for a whole model its settings. Edges other
    nodes own that point at a result (a retrained version's or run's 'triggered_by') stay: they are those nodes'
    history. Returns the profiles' blob hashes, for the registry to delete when nothing else names them.
    Subqueries, not id lists: a model monitored hourly for years has tens of thousands of results."""
    import sqlalchemy as sa

    from nbmlops.store.models import lineage

    t = _tables()

    def of(table: Any) -> list[Any]:
        match = [table.c.model_name == name]
        return match if version is None else [*match, table.c.model_version == version]

    results, features, references = t.drift_results, t.drift_features, t.monitor_references
    doomed = sa.select(results.c.id).where(*of(results))
    tx.execute(lineage.delete().where(lineage.c.from_kind == DRIFT_RESULT, lineage.c.from_id.in_(doomed)))
    tx.execute(features.delete().where(features.c.result_id.in_(doomed)))
    tx.execute(results.delete().where(*of(results)))
    profiles = {row["sha256"] for row in tx.all(sa.select(references.c.sha256).where(*of(references)))}
    tx.execute(references.delete().where(*of(references)))
    if version is None:
        tx.execute(t.monitor_settings.delete().where(t.monitor_settings.c.model_name == name))
    return profiles
