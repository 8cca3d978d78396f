"""The JSON catalogs of nbmlops before migration 0007, imported into the database once per artifact root.

Before 0007 the catalog was files under the artifact root:

    features/catalog/<set>/v<N>.json            a version: name, version, fingerprint, spec, dtypes, created_at
                                                (and inferred, once written)
    features/catalog/<set>/inferred-v<N>.json   {"columns": [...]}: decides v<N>'s inferred columns
    features/catalog/<set>/current.json         {"version": N}: the current version
    features/data/<set>/v<N>/_stats.json        the statistics cache of v<N>
    features/vectors/<name>.json                a vector: name, features, label, description

A migration can't know a database's artifact root (a PostgreSQL database doesn't say, the root is a setting of
whoever opens the store, and a new SQLite store is made without running migrations), so FeatureStore imports on
open instead: one query when the root was seen before. Otherwise the files are read, and written in one
transaction that first claims the root in feature_catalog_imports: a process opening the same root at the same
moment waits on that row, then finds it claimed and imports nothing. What the database already holds wins: a
version it has with the same fingerprint is kept as it is, a vector it has is kept, its current pointer is kept;
a version number it holds with another definition stops the import (nothing imported, an error names both). The
files are left where they are and no longer read.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbmlops.features.catalog_db import INSERT_VERSION, CatalogDB, dumps, ensure_set, insert_missing, version_row
from nbmlops.features.errors import FeatureError

if TYPE_CHECKING:
    from nbmlops.store.db import Tx
    from nbmlops.store.filesystems import Root


@dataclass
class LegacySet:
    name: str
    records: list[dict[str, Any]] = field(default_factory=list)  # with "inferred" filled from claim files
    stats: dict[int, Any] = field(default_factory=dict)
    current: int | None = None
    files: dict[int, str] = field(default_factory=dict)  # version -> where its file is, for messages


def root_key(root: Root) -> str:
    """How feature_catalog_imports names an artifact root."""
    return root.where("").rstrip("/") or "/"


def _json(root: Root, rel: str) -> Any:
    data = root.read_bytes(rel)
    if data is None:
        return None  # removed between listing and reading
    try:
        return json.loads(data)
    except ValueError as exc:
        raise FeatureError(
            f"old feature catalog file {root.where(rel)} is not JSON ({exc}); fix or remove it so "
            "the catalog can be imported into the database"
        ) from None


def read_legacy(root: Root) -> tuple[list[LegacySet], list[dict[str, Any]]]:
    """The sets and vectors of the JSON catalog under root (none when it has none)."""
    sets = []
    for name in root.listdir("features/catalog"):
        base = f"features/catalog/{name}"
        found = LegacySet(name)
        for entry in root.listdir(base):
            if not (entry.startswith("v") and entry.endswith(".json")):
                continue
            record = _json(root, f"{base}/{entry}")
            if not record:
                continue
            version = int(record["version"])
            if "inferred" not in record and any(i["kind"] == "infer" for i in record["spec"]["row"]):
                claimed = _json(root, f"{base}/inferred-v{version}.json")  # the claim file decided them
                if claimed:
                    record["inferred"] = claimed["columns"]
            found.records.append(record)
            found.files[version] = root.where(f"{base}/{entry}")
            stats = _json(root, f"features/data/{name}/v{version}/_stats.json")
            if stats:
                found.stats[version] = stats
        current = _json(root, f"{base}/current.json")
        found.current = int(current["version"]) if current else None
        if found.records:
            found.records.sort(key=lambda r: r["version"])
            sets.append(found)
    vectors = [
        v
        for n in root.listdir("features/vectors")
        if n.endswith(".json")
        if (v := _json(root, f"features/vectors/{n}"))
    ]
    return sets, vectors


def import_once(catalog: CatalogDB, root: Root) -> int | None:
    """Import root's JSON catalog unless this database already did; the number of sets imported (None when
    nothing was to do)."""
    key = root_key(root)
    if catalog.db.query("SELECT 1 FROM feature_catalog_imports WHERE root = :root", {"root": key}):
        return None
    sets, vectors = read_legacy(root)

    def write(tx: Tx) -> int | None:
        now = time.time()
        claim = {"root": key, "sets": len(sets), "vectors": len(vectors), "imported_at": now}
        if not insert_missing(tx, "feature_catalog_imports", claim, "root"):
            return None  # another process imported it meanwhile
        for legacy in sets:
            _import_set(tx, catalog, legacy, now)
        for vector in vectors:
            insert_missing(
                tx,
                "feature_vectors",
                {
                    "name": vector["name"],
                    "features": dumps(list(vector["features"])),
                    "label": vector.get("label"),
                    "description": vector.get("description"),
                    "created_at": now,
                    "updated_at": now,
                },
                "name",
            )
        return len(sets)

    imported = catalog.db.transaction(write)
    catalog.forget([s.name for s in sets])
    return imported


def _import_set(tx: Tx, catalog: CatalogDB, legacy: LegacySet, now: float) -> None:
    ensure_set(tx, legacy.name, now)
    rows = tx.all("SELECT version, fingerprint FROM feature_set_versions WHERE name = :name", {"name": legacy.name})
    by_version = {int(r["version"]): r["fingerprint"] for r in rows}
    by_fingerprint = {r["fingerprint"]: int(r["version"]) for r in rows}
    for record in legacy.records:
        version, fingerprint = int(record["version"]), record["fingerprint"]
        if by_version.get(version) == fingerprint:
            continue  # the database has it already: its row (types, inferred columns) wins
        if version in by_version or fingerprint in by_fingerprint:
            held = (
                f"defines v{version} otherwise than {catalog.where} does"
                if version in by_version
                else f"holds as v{version} the definition {catalog.where} holds as v{by_fingerprint[fingerprint]}"
            )
            raise FeatureError(
                f"feature set '{legacy.name}': the old catalog file {legacy.files[version]} {held}; "
                "nothing was imported (move the old features/catalog folder away to open this "
                "artifact root with the database's catalog only)"
            )
        tx.execute(INSERT_VERSION, version_row({**record, "name": legacy.name}, now, legacy.stats.get(version)))
        by_version[version], by_fingerprint[fingerprint] = fingerprint, version
    if legacy.current is not None and legacy.current in by_version:
        tx.execute(
            "UPDATE feature_sets SET current_version = :version WHERE name = :name AND current_version IS NULL",
            {"version": legacy.current, "name": legacy.name},
        )
