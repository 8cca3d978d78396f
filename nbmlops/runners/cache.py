"""Step cache: a step whose code, setup, parameter values and inputs are unchanged reuses earlier outputs.

Key = hash(step code, setup code, values of the parameters the step reads, input value hashes, nbmlops
version). Entries live in `<home>/cache/steps/<key>.json` and point at the run folder that holds the outputs
(and at that run's step, whose records in the store a hit copies); an entry whose files are gone (run removed)
is a miss. `<home>/cache/last/<pipeline>/<step>.json` keeps the
key's parts from the last execution, to tell the user why a step re-ran.

With a remote artifact root (`s3://...`, any pyarrow URL), the cache is shared through it: each executed
step's outputs are stored there content-addressed (the run's outputs, beside registered models and features),
and its entry as `cache/steps/<key>.json` under the root. A process on another machine (another project home,
the same root and database) then finds the entry, downloads the outputs into its own cache folder, checks
each against its sha256 (a mismatch is a miss) and takes them as a local hit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops._version import __version__
from nbmlops.digest import sha256_hex
from nbmlops.pipeline.spec import PipelineSpec, Step
from nbmlops.runners.marshal import StoredValue
from nbmlops.runners.rundir import write_json


def _digest(value: Any) -> str:
    return sha256_hex(json.dumps(value, sort_keys=True, default=repr).encode())


class KeyParts(NamedTuple):
    """What a step's cache key is made of, and `key`, their digest (made by key_parts). NamedTuples, not
    dataclasses, for these records: a dataclass costs ~1 ms to create at import."""

    code: str
    setup: str
    params: dict[str, Any]
    inputs: dict[str, str]
    version: str = __version__
    key: str = ""

    def parts(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "setup": self.setup,
            "params": self.params,
            "inputs": self.inputs,
            "version": self.version,
        }


def key_parts(spec: PipelineSpec, step: Step, params: dict[str, Any], input_hashes: dict[str, str]) -> KeyParts:
    parts = KeyParts(
        _digest([c.code for c in step.cells]),
        _digest([c.code for c in spec.setup]),
        {name: params[name] for name in step.params},
        dict(sorted(input_hashes.items())),
    )
    return parts._replace(key=_digest(parts.parts()))


class CacheHit(NamedTuple):
    run_id: str  # the run that produced the outputs
    outputs: dict[str, StoredValue]
    folder: Path  # an outputs folder holding them: the producer's, or a later run's that took them from the cache
    source_run: str  # the run that folder belongs to, and the step there: its records (metrics, ...) are copied
    source_step: str


class StepCache:
    def __init__(self, home: Path) -> None:
        self.root = home / "cache"
        self.home = home
        self._made: set[Path] = set()  # folders this process already made: one mkdir each, not one per step
        self._shared: Any = False  # the remote artifact store the cache is shared through (None: local root)

    @property
    def shared(self) -> Any:
        """The artifact store of a remote artifact root (None for a local one), opened on first use."""
        if self._shared is False:
            from nbmlops.store.config import load_settings
            from nbmlops.store.filesystems import scheme_of

            root = load_settings(self.home).artifact_root
            if scheme_of(root):
                from nbmlops.store.artifacts import ArtifactStore

                self._shared = ArtifactStore(root)
            else:
                self._shared = None
        return self._shared

    def _entry(self, key: str) -> Path:
        return self.root / "steps" / f"{key}.json"

    def lookup(self, key: str) -> CacheHit | None:
        path = self._entry(key)
        if not path.is_file():
            return self._shared_lookup(key) if self.shared is not None else None
        try:
            data = json.loads(path.read_text())
            outputs = {name: StoredValue(**record) for name, record in data["outputs"].items()}
            folder = Path(data["folder"])
            run_id, step = str(data["run_id"]), str(data["step"])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss, never an error
        for stored in outputs.values():
            file = folder / stored.file
            if not file.is_file() or file.stat().st_size != stored.size:
                return None
        # entries written before source_run was kept pointed at the producer's own folder, or at a copy of it
        return CacheHit(run_id, outputs, folder, str(data.get("source_run") or run_id), step)

    def record(
        self,
        spec: PipelineSpec,
        step: Step,
        parts: KeyParts,
        run_id: str,
        outputs: dict[str, StoredValue],
        folder: Path,
        source_run: str | None = None,
    ) -> None:
        """Remember the outputs of `step` (made by run `run_id`) in `folder`, which belongs to `source_run` (the
        producer unless given)."""
        for directory in (self.root / "steps", self.root / "last" / spec.name):
            if directory not in self._made:
                directory.mkdir(parents=True, exist_ok=True)
                self._made.add(directory)
        entry = {
            "run_id": run_id,
            "step": step.name,
            "folder": str(folder),
            "source_run": source_run or run_id,
            "outputs": {n: s.to_dict() for n, s in outputs.items()},
        }
        write_json(self._entry(parts.key), entry)
        write_json(self.root / "last" / spec.name / f"{step.name}.json", parts.parts())
        if self.shared is not None:
            self._share(parts.key, entry, outputs, folder)

    # -- through a remote artifact root ---------------------------------------------------------------------
    def _share(self, key: str, entry: dict[str, Any], outputs: dict[str, StoredValue], folder: Path) -> None:
        """Store the outputs content-addressed under the root, then the entry naming them (in that order: an
        entry another machine can read always has its blobs)."""
        for stored in outputs.values():
            blob = self.shared.put_file(folder / stored.file)
            if blob.sha256 != stored.sha256:  # the file changed after it was hashed: don't share a lie
                return
        shared = {k: v for k, v in entry.items() if k != "folder"}
        self.shared.files.write_bytes(f"cache/steps/{key}.json", json.dumps(shared).encode())

    def _shared_lookup(self, key: str) -> CacheHit | None:
        """An entry another machine shared: its outputs downloaded (and checked) into this home's cache."""
        import hashlib

        raw = self.shared.files.read_bytes(f"cache/steps/{key}.json")
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            outputs = {name: StoredValue(**record) for name, record in data["outputs"].items()}
            run_id, step = str(data["run_id"]), str(data["step"])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss, never an error
        folder = self.root / "shared" / key
        for stored in outputs.values():
            target = folder / stored.file
            if target.is_file() and target.stat().st_size == stored.size:
                continue
            if not self.shared.exists(stored.sha256):
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            data_bytes = self.shared.get_bytes(stored.sha256)
            if hashlib.sha256(data_bytes).hexdigest() != stored.sha256:
                return None  # changed in the bucket: never hand on bytes that don't match their hash
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data_bytes)
            os.replace(tmp, target)
        return CacheHit(run_id, outputs, folder, str(data.get("source_run") or run_id), step)

    def why_rerun(self, spec: PipelineSpec, step: Step, parts: KeyParts) -> str:
        """Why a cache miss happened, in words: compare with the step's last execution."""
        path = self.root / "last" / spec.name / f"{step.name}.json"
        if not path.is_file():
            return "first run"
        try:
            last = KeyParts(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return "first run"
        reasons = []
        if last.code != parts.code:
            reasons.append("its code changed")
        if last.setup != parts.setup:
            reasons.append("setup code changed")
        for name, value in parts.params.items():
            if name in last.params and last.params[name] != value:
                reasons.append(f"parameter {name} {last.params[name]!r} → {value!r}")
        changed = [name for name, digest in parts.inputs.items() if last.inputs.get(name) != digest]
        if changed:
            producers = {name: step.inputs.get(name) for name in changed}
            reasons.append("input " + ", ".join(f"{n} (from {p})" for n, p in producers.items()) + " changed")
        if last.version != parts.version:
            reasons.append(f"nbmlops {last.version} → {parts.version}")
        return "; ".join(reasons) or "its earlier outputs are gone"
