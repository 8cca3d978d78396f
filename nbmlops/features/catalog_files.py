"""Versioned definitions on disk: features/catalog/<set>/v<N>.json, and vectors under features/vectors/.

A definition whose fingerprint matches a stored version is that version (its description/owner are refreshed);
any other makes version N+1, created exclusively so two processes can't both claim N+1.

    features/catalog/<set>/current.json        the version last ingested or pushed: what 'set.feature' reads
    features/catalog/<set>/inferred-v<N>.json  the columns v<N> inferred at its first ingest (created exclusively:
                                               the first writer fixes them, a concurrent one adopts them)
"""

from __future__ import annotations

import json
import time
from typing import Any

from nbmlops.features.definitions import FeatureSet, SetSpec
from nbmlops.features.errors import FeatureError
from nbmlops.features.files import Files


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=1, sort_keys=True, default=str).encode()


class CatalogFiles:
    def __init__(self, files: Files) -> None:
        self.files = files
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._current: dict[str, int | None] = {}

    def _versions(self, name: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        if fresh or name not in self._cache:
            records = []
            for entry in self.files.listdir(f"features/catalog/{name}"):
                if entry.startswith("v") and entry.endswith(".json"):
                    records.append(self._with_inferred(
                        json.loads(self.files.read_bytes(f"features/catalog/{name}/{entry}") or b"{}")))
            self._cache[name] = sorted(records, key=lambda r: r["version"])
        return self._cache[name]

    def _with_inferred(self, record: dict[str, Any]) -> dict[str, Any]:
        """The claim file decides inferred columns: the record may not carry them yet (written just after)."""
        if "inferred" in record or not any(i["kind"] == "infer" for i in record["spec"]["row"]):
            return record
        claimed = self.files.read_bytes(self._inferred_path(record["name"], record["version"]))
        return {**record, "inferred": json.loads(claimed)["columns"]} if claimed else record

    @staticmethod
    def _inferred_path(name: str, version: int) -> str:
        return f"features/catalog/{name}/inferred-v{version}.json"

    def names(self) -> list[str]:
        return self.files.listdir("features/catalog")

    def register(self, fset: FeatureSet) -> SetSpec:
        spec, fingerprint = fset.spec(), fset.fingerprint()
        for _ in range(20):  # another process may claim the next version first: re-read and retry
            versions = self._versions(fset.name, fresh=True)
            for record in versions:
                if record["fingerprint"] == fingerprint:
                    if any(record["spec"].get(k) != spec[k] for k in ("description", "owner", "tags")):
                        record["spec"].update({k: spec[k] for k in ("description", "owner", "tags")})
                        self._save(record)
                    return SetSpec.from_record(record)
            number = (versions[-1]["version"] + 1) if versions else 1
            record = {"name": fset.name, "version": number, "fingerprint": fingerprint, "spec": spec,
                      "dtypes": {}, "created_at": time.time()}
            if self.files.write_bytes(f"features/catalog/{fset.name}/v{number}.json", _dump(record), exclusive=True):
                self._cache.pop(fset.name, None)
                return SetSpec.from_record(record)
        raise FeatureError(f"feature set '{fset.name}': could not claim a new version in {self.files.root}")

    def _save(self, record: dict[str, Any]) -> None:
        self.files.write_bytes(f"features/catalog/{record['name']}/v{record['version']}.json", _dump(record))
        self._cache.pop(record["name"], None)

    def claim_inferred(self, spec: SetSpec, columns: list[str]) -> SetSpec:
        """Fix the version's inferred columns, unless another writer fixed them first: then theirs hold."""
        rel = self._inferred_path(spec.name, spec.version)
        if self.files.write_bytes(rel, _dump({"columns": columns, "at": time.time()}), exclusive=True):
            record = {**spec.raw, "inferred": columns}
            self._save(record)  # the version's own record shows them too
            return SetSpec.from_record(record)
        self._cache.pop(spec.name, None)
        return self.get(spec.name, spec.version)

    def set_current(self, name: str, version: int) -> None:
        """The version vectors read from now on (an ingest or push into it makes it current)."""
        self.files.write_bytes(f"features/catalog/{name}/current.json",
                               _dump({"version": version, "at": time.time()}))
        self._current[name] = version

    def current_version(self, name: str, *, fresh: bool = True) -> int | None:
        """The version last ingested or pushed; None where nothing was (then the newest version reads)."""
        if fresh or name not in self._current:
            data = self.files.read_bytes(f"features/catalog/{name}/current.json")
            self._current[name] = json.loads(data)["version"] if data else None
        return self._current[name]

    def set_dtypes(self, spec: SetSpec, dtypes: dict[str, str]) -> SetSpec:
        record = dict(spec.raw)
        record["dtypes"] = {**record.get("dtypes", {}), **{k: v for k, v in dtypes.items() if v != "null"}}
        if record["dtypes"] != spec.raw.get("dtypes"):
            self._save(record)
        return SetSpec.from_record(record)

    def get(self, name: str, version: int | None = None, *, fresh: bool = True) -> SetSpec:
        """A version of the set; without one, the current version (last ingested; else the newest)."""
        versions = self._versions(name, fresh=fresh)
        if not versions:
            known = ", ".join(self.names()) or "none yet"
            raise FeatureError(f"unknown feature set '{name}' in {self.files.where('features/catalog')} "
                               f"(known: {known})")
        current = self.current_version(name, fresh=fresh)
        wanted = version if version is not None else current
        for record in versions:
            if record["version"] == wanted:
                return SetSpec.from_record(record)
        if version is None:  # no pointer yet (or it names a version since removed)
            return SetSpec.from_record(versions[-1])
        shown = ", ".join(f"v{r['version']}" for r in versions)
        raise FeatureError(f"feature set '{name}' has no version {version} (versions: {shown}; current: "
                           f"v{current if current is not None else versions[-1]['version']})")

    def versions(self, name: str) -> list[SetSpec]:
        return [SetSpec.from_record(r) for r in self._versions(name, fresh=True)]

    # -- vectors ---------------------------------------------------------------------------------------------
    def save_vector(self, record: dict[str, Any]) -> None:
        rel = f"features/vectors/{record['name']}.json"
        old = self.files.read_bytes(rel)
        if old is None or json.loads(old).get("features") != record["features"] \
                or json.loads(old).get("label") != record.get("label"):
            self.files.write_bytes(rel, _dump(record))

    def vector(self, name: str) -> dict[str, Any]:
        data = self.files.read_bytes(f"features/vectors/{name}.json")
        if data is None:
            known = ", ".join(n[:-5] for n in self.files.listdir("features/vectors")) or "none yet"
            raise FeatureError(f"unknown feature vector '{name}' (known: {known})")
        return json.loads(data)

    def vectors(self) -> list[dict[str, Any]]:
        return [json.loads(self.files.read_bytes(f"features/vectors/{n}") or b"{}")
                for n in self.files.listdir("features/vectors") if n.endswith(".json")]
