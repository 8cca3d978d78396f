"""The feature catalog in the metadata database (tables.py): versioned feature-set definitions, each set's current
version (the one 'set.feature' reads: last ingested or pushed), inferred columns, column types, cached
statistics, and the vectors read so far.

A definition whose fingerprint matches a stored version is that version (its description/owner/tags are
refreshed); any other makes version N+1. Many processes ingest and push at once, so every change is one
transaction of the store's database, and none can lose another's:
- a new version: the set's row is locked first (an UPDATE of it: the row lock on PostgreSQL, the write lock of
  BEGIN IMMEDIATE on SQLite), then the fingerprint is looked up and, when absent, max(version) + 1 inserted; a
  second writer of the same definition waits, then finds the first one's version;
- inferred columns: `UPDATE ... WHERE inferred IS NULL`: the first writer fixes them, a later one adopts them;
- column types: merged under the version row's lock; a type already recorded stays;
- the current pointer: one UPDATE; the last ingest or push to commit wins, and it always names a version.
Reads are plain queries; `fresh=False` may answer from this object's cache (FeatureStore.resolve re-reads it
every RESOLVE_TTL_S, so a long-running server follows another process's switch of version).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbmlops.features.definitions import FeatureSet, SetSpec
from nbmlops.features.errors import FeatureError
from nbmlops.store import sql

if TYPE_CHECKING:
    from nbmlops.store.db import Database, Tx

_METADATA = ("description", "owner", "tags")  # refreshed in place: not part of the fingerprint
_VERSION_COLUMNS = "v.version, v.fingerprint, v.definition, v.inferred, v.dtypes, v.created_at"
SELECT_SET = (
    f"SELECT s.name, s.current_version, {_VERSION_COLUMNS} FROM feature_sets s "
    "JOIN feature_set_versions v ON v.name = s.name WHERE s.name = :name ORDER BY v.version"
)
SELECT_FINGERPRINT = (
    f"SELECT v.name, {_VERSION_COLUMNS} FROM feature_set_versions v "
    "WHERE v.name = :name AND v.fingerprint = :fingerprint"
)
INSERT_VERSION = (
    "INSERT INTO feature_set_versions (name, version, fingerprint, definition, inferred, dtypes, stats, "
    "created_at, updated_at) VALUES (:name, :version, :fingerprint, :definition, :inferred, :dtypes, "
    ":stats, :created_at, :updated_at)"
)
LOCK_SET = "UPDATE feature_sets SET updated_at = :now WHERE name = :name"
LOCK_VERSION = "UPDATE feature_set_versions SET updated_at = :now WHERE name = :name AND version = :version"


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """A version row as the record SetSpec reads (the shape the JSON catalog files had)."""
    record = {
        "name": row["name"],
        "version": int(row["version"]),
        "fingerprint": row["fingerprint"],
        "spec": json.loads(row["definition"]),
        "dtypes": json.loads(row["dtypes"]),
        "created_at": row["created_at"],
    }
    if row["inferred"] is not None:
        record["inferred"] = json.loads(row["inferred"])
    return record


def version_row(record: Mapping[str, Any], now: float, stats: Any = None) -> dict[str, Any]:
    inferred = record.get("inferred")
    return {
        "name": record["name"],
        "version": record["version"],
        "fingerprint": record["fingerprint"],
        "definition": dumps(record["spec"]),
        "inferred": None if inferred is None else dumps(list(inferred)),
        "dtypes": dumps(record.get("dtypes") or {}),
        "stats": None if stats is None else dumps(stats),
        "created_at": record.get("created_at") or now,
        "updated_at": now,
    }


def insert_missing(tx: Tx, table: str, row: Mapping[str, Any], key: str) -> bool:
    """Insert the row unless one with the same key exists; True when inserted. On PostgreSQL a concurrent
    inserter of the same key waits for the first to commit (ON CONFLICT DO NOTHING), then inserts nothing."""
    columns, keys = tuple(row), (key,)
    statement = sql.upsert(table, columns, keys, tx.dialect, update=False)
    if statement is not None:
        return tx.execute(statement, row) > 0
    if tx.first(sql.select_keys(table, keys), row) is not None:  # no ON CONFLICT: look first, in this transaction
        return False
    tx.execute(sql.insert(table, columns), row)
    return True


def ensure_set(tx: Tx, name: str, now: float) -> None:
    tx.upsert(
        "feature_sets",
        [{"name": name, "current_version": None, "created_at": now, "updated_at": now}],
        ["name"],
        update=False,
    )


class CatalogDB:
    """The catalog verbs FeatureStore, vectors, describe and parity use, on one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.where = f"the feature catalog of {db.where}"
        self._cache: dict[str, tuple[list[dict[str, Any]], int | None]] = {}  # name -> (versions, current)

    # -- reading ----------------------------------------------------------------------------------------------
    def _load(self, name: str, fresh: bool) -> tuple[list[dict[str, Any]], int | None]:
        if fresh or name not in self._cache:
            rows = self.db.query(SELECT_SET, {"name": name})
            current = rows[0]["current_version"] if rows else None
            self._cache[name] = ([record_of(r) for r in rows], None if current is None else int(current))
        return self._cache[name]

    def forget(self, names: list[str]) -> None:
        """Drop what this object cached of these sets (they were changed behind its back)."""
        for name in names:
            self._cache.pop(name, None)

    def names(self) -> list[str]:
        return sorted(r["name"] for r in self.db.query("SELECT name FROM feature_sets"))

    def get(self, name: str, version: int | None = None, *, fresh: bool = True) -> SetSpec:
        """A version of the set; without one, the current version (last ingested; else the newest)."""
        versions, current = self._load(name, fresh)
        if not versions:
            known = ", ".join(self.names()) or "none yet"
            raise FeatureError(f"unknown feature set '{name}' in {self.where} (known: {known})")
        wanted = version if version is not None else current
        for record in versions:
            if record["version"] == wanted:
                return SetSpec.from_record(record)
        if version is None:  # no pointer yet
            return SetSpec.from_record(versions[-1])
        shown = ", ".join(f"v{r['version']}" for r in versions)
        raise FeatureError(
            f"feature set '{name}' has no version {version} (versions: {shown}; current: "
            f"v{current if current is not None else versions[-1]['version']})"
        )

    def versions(self, name: str) -> list[SetSpec]:
        return [SetSpec.from_record(r) for r in self._load(name, True)[0]]

    def current_version(self, name: str, *, fresh: bool = True) -> int | None:
        """The version last ingested or pushed; None where nothing was (then the newest version reads)."""
        return self._load(name, fresh)[1]

    # -- versions ---------------------------------------------------------------------------------------------
    def register(self, fset: FeatureSet) -> SetSpec:
        """The stored version of this definition, made (version N+1) when no version has its fingerprint."""
        spec, fingerprint = fset.spec(), fset.fingerprint()
        key = {"name": fset.name, "fingerprint": fingerprint}
        found = self.db.query(SELECT_FINGERPRINT, key)  # the common case, without a write transaction
        if found and not _stale_metadata(record_of(found[0]), spec):
            return SetSpec.from_record(record_of(found[0]))

        def write(tx: Tx) -> dict[str, Any]:
            now = time.time()
            ensure_set(tx, fset.name, now)
            tx.execute(LOCK_SET, {"name": fset.name, "now": now})  # held until commit: one new version at a time
            rows = tx.all(SELECT_FINGERPRINT, key)
            if rows:
                record = record_of(rows[0])
                if _stale_metadata(record, spec):
                    record["spec"].update({k: spec[k] for k in _METADATA})
                    tx.execute(
                        "UPDATE feature_set_versions SET definition = :definition, updated_at = :now "
                        "WHERE name = :name AND version = :version",
                        {
                            "definition": dumps(record["spec"]),
                            "now": now,
                            "name": fset.name,
                            "version": record["version"],
                        },
                    )
                return record
            last = tx.first("SELECT MAX(version) FROM feature_set_versions WHERE name = :name", {"name": fset.name})
            record = {
                "name": fset.name,
                "version": int(last[0] or 0) + 1 if last else 1,
                "fingerprint": fingerprint,
                "spec": spec,
                "dtypes": {},
                "created_at": now,
            }
            tx.execute(INSERT_VERSION, version_row(record, now))
            return record

        record = self.db.transaction(write)
        self._cache.pop(fset.name, None)
        return SetSpec.from_record(record)

    def claim_inferred(self, spec: SetSpec, columns: list[str]) -> SetSpec:
        """Fix the version's inferred columns, unless another writer fixed them first: then theirs hold."""
        won = self.db.execute(
            "UPDATE feature_set_versions SET inferred = :inferred, updated_at = :now "
            "WHERE name = :name AND version = :version AND inferred IS NULL",
            {"inferred": dumps(list(columns)), "now": time.time(), "name": spec.name, "version": spec.version},
        )
        self._cache.pop(spec.name, None)
        if won:
            return spec.with_inferred(columns)
        return self.get(spec.name, spec.version)

    def set_dtypes(self, spec: SetSpec, dtypes: dict[str, str]) -> SetSpec:
        """Record column types (the kinds of ingested columns; 'null' says nothing and is not recorded)."""
        found = {k: v for k, v in dtypes.items() if v != "null"}
        if {**spec.dtypes, **found} == spec.dtypes:
            return spec

        def write(tx: Tx) -> dict[str, str]:
            params = {"name": spec.name, "version": spec.version, "now": time.time()}
            tx.execute(LOCK_VERSION, params)
            row = tx.first("SELECT dtypes FROM feature_set_versions WHERE name = :name AND version = :version", params)
            stored = json.loads(row[0]) if row else {}
            merged = {**found, **stored}  # a type another writer recorded first stays
            if merged != stored:
                tx.execute(
                    "UPDATE feature_set_versions SET dtypes = :dtypes WHERE name = :name AND version = :version",
                    {**params, "dtypes": dumps(merged)},
                )
            return merged

        merged = self.db.transaction(write)
        self._cache.pop(spec.name, None)
        return SetSpec.from_record({**spec.raw, "dtypes": merged})

    def set_current(self, name: str, version: int) -> None:
        """The version vectors read from now on (an ingest or push into it makes it current)."""
        self.db.execute(
            "UPDATE feature_sets SET current_version = :version, updated_at = :now WHERE name = :name",
            {"version": version, "now": time.time(), "name": name},
        )
        if name in self._cache:
            self._cache[name] = (self._cache[name][0], version)

    # -- statistics (a cache: recomputed when the version's ingests change) ------------------------------------
    def stats(self, spec: SetSpec) -> dict[str, Any] | None:
        rows = self.db.query(
            "SELECT stats FROM feature_set_versions WHERE name = :name AND version = :version",
            {"name": spec.name, "version": spec.version},
        )
        return json.loads(rows[0]["stats"]) if rows and rows[0]["stats"] else None

    def save_stats(self, spec: SetSpec, stats: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE feature_set_versions SET stats = :stats WHERE name = :name AND version = :version",
            {"stats": dumps(stats), "name": spec.name, "version": spec.version},
        )

    # -- vectors ----------------------------------------------------------------------------------------------
    def save_vector(self, record: Mapping[str, Any]) -> None:
        """Record a vector read (rewritten only when its features or label changed)."""
        name, features, label = record["name"], list(record["features"]), record.get("label")
        rows = self.db.query("SELECT features, label FROM feature_vectors WHERE name = :name", {"name": name})
        if rows and json.loads(rows[0]["features"]) == features and rows[0]["label"] == label:
            return
        now = time.time()
        row = {
            "name": name,
            "features": dumps(features),
            "label": label,
            "description": record.get("description"),
            "created_at": now,
            "updated_at": now,
        }

        def write(tx: Tx) -> None:
            if not insert_missing(tx, "feature_vectors", row, "name"):
                tx.execute(
                    "UPDATE feature_vectors SET features = :features, label = :label, "
                    "description = :description, updated_at = :updated_at WHERE name = :name",
                    row,
                )

        self.db.transaction(write)

    def vector(self, name: str) -> dict[str, Any]:
        rows = self.db.query(
            "SELECT name, features, label, description FROM feature_vectors WHERE name = :name", {"name": name}
        )
        if not rows:
            known = ", ".join(v["name"] for v in self.vectors()) or "none yet"
            raise FeatureError(f"unknown feature vector '{name}' (known: {known})")
        return _vector(rows[0])

    def vectors(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT name, features, label, description FROM feature_vectors")
        return sorted((_vector(r) for r in rows), key=lambda v: v["name"])


def _stale_metadata(record: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    return any(record["spec"].get(k) != spec[k] for k in _METADATA)


def _vector(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "features": json.loads(row["features"]),
        "label": row["label"],
        "description": row["description"],
    }
