"""The Store: one project's metadata database plus its artifact store, behind the verbs tracking, the
runners and the CLI need. Every write is one committed transaction (see db.Database.transaction).

Every statement is plain parameterised SQL written once (sql.py; run searches compiled by query.py): on a SQLite
file at head it runs on sqlite3 alone, so neither `nbmlops run` nor `nbmlops runs ls/show` imports SQLAlchemy;
elsewhere the same strings run through SQLAlchemy's text(). Two helpers serve the packages with tables of their
own (registry, monitoring), inside their transactions: `Store.find_run` (what a run recorded) and `unused_blobs`
(which blobs nothing names any more)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.errors import RunError
from nbmlops.store import sql
from nbmlops.store.config import Settings, load_settings
from nbmlops.store.db import Database, Query, Tx
from nbmlops.store.liveness import STALE_AFTER_S, stale_reason, this_host

if TYPE_CHECKING:
    from nbmlops.store.artifacts import ArtifactStore
    from nbmlops.store.query import Filter
    from nbmlops.store.records import ArtifactInfo, Edge, MetricPoint, RunInfo, StepInfo

_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _num(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# Every (table, column) holding the sha256 of a stored blob: runs' artifacts, the registry's models and reference
# data (migration 0003) and monitoring's reference profiles (0004). Listed here, by the owner of the schema (the
# store's migrations build every table), not registered by those packages: any deleter, in any process, whatever
# it imported, must see them all before it deletes a blob.
BLOB_REFERENCES = (
    ("artifacts", "sha256"),
    ("model_versions", "artifact_sha256"),
    ("model_versions", "reference_sha256"),
    ("monitor_references", "sha256"),
)


def unused_blobs(q: Query, shas: Iterable[str]) -> set[str]:
    """The hashes among `shas` that no row names any more (see BLOB_REFERENCES): the blobs a deleting transaction
    may remove from the artifact store once it has committed. `q`: tx.all inside that transaction."""
    candidates = sorted(set(shas))
    used: set[str] = set()
    for table, column in BLOB_REFERENCES:
        for chunk in _chunks(candidates):
            template = f"SELECT {column} AS sha256 FROM {table} WHERE {column} IN {sql.in_list('s', len(chunk))}"
            used |= {row["sha256"] for row in q(template, sql.in_params("s", chunk))}
    return set(candidates) - used


class Store:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        """The content-addressed blobs (made on first use: a run that stores no artifact never loads it)."""
        from nbmlops.store.artifacts import ArtifactStore

        return ArtifactStore(self.settings.artifact_root)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------------------
    def create_run(
        self,
        *,
        run_id: str | None = None,
        name: str | None = None,
        kind: str = "run",
        pipeline: str | None = None,
        notebook_path: str | None = None,
        notebook_sha256: str | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        backend: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        resumed_from: str | None = None,
        python_version: str | None = None,
        nbmlops_version: str | None = None,
        packages: Mapping[str, str] | None = None,
        started_at: float | None = None,
        pid: int | None = None,
    ) -> str:
        """Record a new running run (pid/host of this process unless given); returns its id."""
        from nbmlops._version import __version__

        run_id = run_id or new_run_id()
        now = time.time()
        started = started_at or now
        row = {
            "id": run_id,
            "name": name or pipeline,
            "kind": kind,
            "pipeline": pipeline,
            "status": "running",
            "notebook_path": notebook_path,
            "notebook_sha256": notebook_sha256,
            "git_commit": git_commit,
            "git_dirty": git_dirty,
            "backend": backend,
            "started_at": started,
            "heartbeat_at": now,
            "pid": pid or os.getpid(),
            "host": this_host(),
            "python_version": python_version or sys.version.split()[0],  # = platform.python_version()
            "nbmlops_version": nbmlops_version or __version__,
            "packages": _json(dict(packages)) if packages else None,
            "parent_run_id": parent_run_id,
            "resumed_from": resumed_from,
        }
        edges = []
        if notebook_sha256:
            edges.append(("notebook", notebook_sha256, "code", notebook_path))
        if git_commit:
            edges.append(("commit", git_commit, "commit", "dirty" if git_dirty else None))
        if resumed_from:
            edges.append(("run", resumed_from, "resumed_from", None))

        edge_rows = [
            sql.edge_row("run", run_id, kind_, id_, relation, label, run_id) for kind_, id_, relation, label in edges
        ]
        if parent_run_id:
            edge_rows.append(sql.edge_row("run", parent_run_id, "run", run_id, "child", None, run_id))

        def write(tx: Tx) -> None:
            tx.execute(sql.INSERT_RUN, row)
            self._write_params(tx, run_id, params or {})
            self._write_tags(tx, run_id, tags or {})
            if edge_rows:
                tx.executemany(sql.INSERT_LINEAGE, edge_rows)

        self.db.transaction(write)
        return run_id

    def set_trigger(self, run_id: str, trigger: Mapping[str, Any]) -> None:
        """Record what started the run (a schedule's occurrence, new files, a drift result, an upstream run)."""
        if self.db.execute(sql.SET_TRIGGER, {"trigger": _json(dict(trigger)), "id": run_id}) == 0:
            raise RunError(f"no run '{run_id}' in {self._where()}")

    def heartbeat(self, run_id: str) -> None:
        self.db.execute(sql.HEARTBEAT, {"now": time.time(), "id": run_id})

    def set_git_dirty(self, run_id: str, dirty: bool) -> None:
        """Record whether the run's git work tree had changes (known after `git status` returns)."""

        def write(tx: Tx) -> None:
            tx.execute(sql.SET_GIT_DIRTY, {"dirty": dirty, "id": run_id})
            tx.execute(sql.MARK_COMMIT_DIRTY, {"name": "dirty" if dirty else None, "id": run_id})

        self.db.transaction(write)

    def finish_run(
        self, run_id: str, status: str = "succeeded", *, error: str | None = None, ended_at: float | None = None
    ) -> None:
        if status not in sql.RUN_STATUSES:
            raise RunError(f"unknown run status '{status}' (one of {', '.join(sql.RUN_STATUSES)})")
        ended = ended_at or time.time()
        if self.db.execute(sql.FINISH_RUN, {"status": status, "ended": ended, "error": error, "id": run_id}) == 0:
            raise RunError(f"no run '{run_id}' in {self._where()}")

    def get_run(self, run_id: str, *, check_stale: bool = True) -> RunInfo:
        if check_stale:
            self.mark_stale_runs(run_ids=[run_id])
        found = self.find_run(run_id)
        if found is None:
            raise RunError(f"no run '{run_id}' in {self._where()}")
        return found

    def find_run(self, run_id: str, *, tx: Tx | None = None) -> RunInfo | None:
        """The run with its params, tags and latest metrics, or None when there is none. `tx`: read inside that
        write transaction (a model version copying its run's params and metrics as they are when it commits)."""
        from nbmlops.store.query import SELECT_RUNS

        found = self._load_runs(
            f"{SELECT_RUNS} WHERE runs.id = :id", {"id": run_id}, tx.all if tx is not None else self.db.query
        )
        return found[0] if found else None

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        parent_run_id: str | None = None,
        where: Iterable[Filter] = (),
        order_by: Iterable[str] = (),
        limit: int | None = None,
        check_stale: bool = True,
    ) -> list[RunInfo]:
        """Runs matching every filter, newest first unless `order_by` says otherwise (e.g. ['-metrics.acc'])."""
        from nbmlops.store.query import select_runs

        equals = {
            column: value
            for column, value in (
                ("pipeline", pipeline),
                ("status", status),
                ("kind", kind),
                ("parent_run_id", parent_run_id),
            )
            if value is not None
        }
        statement, params = select_runs(equals, where, order_by, limit)  # a bad filter fails before any sweep
        if check_stale:
            self.mark_stale_runs()
        return self._load_runs(statement, params)

    def _load_runs(self, statement: str, params: Mapping[str, Any], q: Query | None = None) -> list[RunInfo]:
        """The runs a SELECT of run columns finds, in its order, with their params, tags and latest metrics."""
        q = q or self.db.query
        found = [_run_info(row) for row in q(statement, params)]
        by_id = {run.id: run for run in found}
        for ids in _chunks(list(by_id)):
            bound = sql.in_params("r", ids)
            ids_sql = sql.in_list("r", len(ids))
            # (run, step) -> where that reused step's records were logged
            reused = {
                (row["run_id"], row["name"]): {"run_id": row["reused_from_run"], "step": row["reused_from_step"]}
                for row in q(sql.SELECT_REUSED_STEPS.format(ids=ids_sql), bound)
            }
            for row in q(sql.SELECT_RUN_PARAMS.format(ids=ids_sql), bound):
                run = by_id[row["run_id"]]
                run.params[row["key"]] = json.loads(row["value"]) if row["value"] is not None else None
                _mark_reused(run, f"params.{row['key']}", reused.get((run.id, row["step_name"])))
            for row in q(sql.SELECT_RUN_TAGS.format(ids=ids_sql), bound):
                run = by_id[row["run_id"]]
                run.tags[row["key"]] = row["value"]
                _mark_reused(run, f"tags.{row['key']}", reused.get((run.id, row["step_name"])))
            for row in q(sql.SELECT_LATEST_METRICS.format(ids=ids_sql), bound):
                run = by_id[row["run_id"]]
                run.metrics[row["key"]] = math.nan if row["value"] is None else row["value"]
                # the latest value decides: a fresh value logged after a reused one is fresh
                _mark_reused(run, f"metrics.{row['key']}", reused.get((run.id, row["step_name"])))
        return found

    def delete_run(self, run_id: str) -> list[str]:
        """Delete a run, its child runs and everything they recorded; blobs no other run uses go too.
        Returns the ids of the deleted runs."""

        def run_each(tx: Tx, template: str, ids: Sequence[str]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for chunk in _chunks(ids):
                rows += tx.all(template.format(ids=sql.in_list("r", len(chunk))), sql.in_params("r", chunk))
            return rows

        def delete_each(tx: Tx, template: str, ids: Sequence[str]) -> int:
            return sum(
                tx.execute(template.format(ids=sql.in_list("r", len(chunk))), sql.in_params("r", chunk))
                for chunk in _chunks(ids)
            )

        def write(tx: Tx) -> tuple[list[str], set[str]]:
            ids = [run_id]
            frontier = [run_id]
            while frontier:  # children of sweeps, recursively
                children = [r["id"] for r in run_each(tx, sql.SELECT_CHILD_RUNS, frontier) if r["id"] not in ids]
                ids += children
                frontier = children
            shas = {r["sha256"] for r in run_each(tx, sql.SELECT_RUN_BLOBS, ids)}
            for statement in sql.DELETE_OWNED.values():
                delete_each(tx, statement, ids)
            delete_each(tx, sql.DELETE_RUN_EDGES, ids)
            if delete_each(tx, sql.DELETE_RUNS, ids) == 0:
                raise RunError(f"no run '{run_id}' in {self._where()}")
            return ids, unused_blobs(tx.all, shas)  # a blob a model version stores is in use too

        ids, orphans = self.db.transaction(write)
        for sha in orphans:  # after the commit: a crash here leaves an unreferenced blob, never a dangling row
            self.artifacts.delete(sha)
        return ids

    def mark_stale_runs(self, stale_after: float = STALE_AFTER_S, *, run_ids: Sequence[str] | None = None) -> list[str]:
        """Runs still 'running' whose process is gone (dead pid on this host, or no heartbeat for
        `stale_after` seconds) become 'failed' with the reason; their running steps too. Returns their ids."""
        if run_ids is None:
            rows = self.db.query(sql.SELECT_RUNNING)
        else:
            rows = []
            for chunk in _chunks(list(run_ids)):
                rows += self.db.query(
                    f"{sql.SELECT_RUNNING} AND id IN {sql.in_list('r', len(chunk))}", sql.in_params("r", chunk)
                )
        now = time.time()
        stale = {}
        for row in rows:
            reason = stale_reason(
                host=row["host"],
                pid=row["pid"],
                heartbeat_at=row["heartbeat_at"],
                started_at=row["started_at"],
                now=now,
                stale_after=stale_after,
            )
            if reason:
                stale[row["id"]] = (reason, row["heartbeat_at"] or row["started_at"])
        if not stale:
            return []

        def write(tx: Tx) -> None:
            for run_id, (reason, last) in stale.items():
                values = {"id": run_id, "error": reason, "ended": last}
                if tx.execute(sql.MARK_RUN_FAILED, values):
                    tx.execute(sql.MARK_STEPS_FAILED, values)

        self.db.transaction(write)
        return list(stale)

    # -- params, metrics, tags -------------------------------------------------------------------------------
    def _write_params(self, tx: Tx, run_id: str, values: Mapping[str, Any], step_name: str | None = None) -> None:
        rows = [
            {"run_id": run_id, "key": str(k), "value": _json(v), "value_num": _num(v), "step_name": step_name}
            for k, v in values.items()
        ]
        tx.upsert("params", rows, ("run_id", "key"))

    def _write_tags(self, tx: Tx, run_id: str, values: Mapping[str, Any], step_name: str | None = None) -> None:
        rows = [{"run_id": run_id, "key": str(k), "value": str(v), "step_name": step_name} for k, v in values.items()]
        tx.upsert("tags", rows, ("run_id", "key"))

    def log_params(self, run_id: str, values: Mapping[str, Any], step_name: str | None = None) -> None:
        """Set params of a run (`step_name`: the pipeline step logging them, which a cache hit copies them from)."""
        self.db.transaction(lambda tx: self._write_params(tx, run_id, values, step_name))

    def log_param(self, run_id: str, key: str, value: Any, step_name: str | None = None) -> None:
        self.log_params(run_id, {key: value}, step_name)

    def set_tags(self, run_id: str, values: Mapping[str, Any], step_name: str | None = None) -> None:
        self.db.transaction(lambda tx: self._write_tags(tx, run_id, values, step_name))

    def set_tag(self, run_id: str, key: str, value: Any, step_name: str | None = None) -> None:
        self.set_tags(run_id, {key: value}, step_name)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: float | None = None,
        step_name: str | None = None,
    ) -> None:
        """One committed row, no reads: the hot path (one autocommitted INSERT on SQLite)."""
        row = {
            "run_id": run_id,
            "key": key,
            "value": float(value),
            "step": step,
            "timestamp": timestamp if timestamp is not None else time.time(),
            "step_name": step_name,
        }
        self.db.execute(sql.INSERT_METRIC, row)

    def log_metrics(
        self,
        run_id: str,
        values: Mapping[str, float],
        step: int | None = None,
        timestamp: float | None = None,
        step_name: str | None = None,
    ) -> None:
        ts = timestamp if timestamp is not None else time.time()
        rows = [
            {"run_id": run_id, "key": k, "value": float(v), "step": step, "timestamp": ts, "step_name": step_name}
            for k, v in values.items()
        ]
        self.db.executemany(sql.INSERT_METRIC, rows)

    def metric_history(self, run_id: str, key: str | None = None) -> list[MetricPoint]:
        from nbmlops.store.records import MetricPoint

        if key is None:
            rows = self.db.query(sql.SELECT_METRIC_HISTORY, {"run_id": run_id})
        else:
            rows = self.db.query(sql.SELECT_KEY_HISTORY, {"run_id": run_id, "key": key})
        return [MetricPoint.from_row(r) for r in rows]

    # -- steps of a pipeline run ----------------------------------------------------------------------------
    def start_step(
        self,
        run_id: str,
        name: str,
        *,
        cache_key: str | None = None,
        inputs: Mapping[str, str] | None = None,
        started_at: float | None = None,
        attempts: int | None = None,
    ) -> None:
        """Mark a step running (again, on retry). Input value hashes become run → value 'input' edges."""
        self.record_step(
            run_id,
            name,
            "running",
            cache_key=cache_key,
            inputs=inputs,
            started_at=started_at or time.time(),
            attempts=attempts,
        )

    def finish_step(
        self,
        run_id: str,
        name: str,
        status: str = "succeeded",
        *,
        outputs: Mapping[str, str] | None = None,
        cache_hit: bool = False,
        error: str | None = None,
        stdout_path: str | None = None,
        stderr_path: str | None = None,
        ended_at: float | None = None,
        attempts: int | None = None,
    ) -> None:
        ended = ended_at or time.time()
        self.record_step(
            run_id,
            name,
            status,
            outputs=outputs,
            cache_hit=cache_hit,
            error=error,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
            ended_at=ended,
            attempts=attempts,
        )

    def record_step(self, run_id: str, name: str, status: str, **fields: Any) -> None:
        """Insert or update a step row with the fields given (None leaves a field as it was)."""
        self.db.transaction(lambda tx: self._write_step(tx, run_id, name, status, **fields))

    def _write_step(self, tx: Tx, run_id: str, name: str, status: str, **fields: Any) -> None:
        inputs = fields.pop("inputs", None)
        outputs = fields.pop("outputs", None)
        unknown = set(fields) - set(sql.STEP_COLUMNS)
        if unknown:
            raise TypeError(f"record_step: unknown step field(s) {', '.join(sorted(unknown))}")
        values = {k: v for k, v in fields.items() if v is not None}
        values["status"] = status
        if inputs is not None:
            values["inputs"] = _json(dict(inputs))
        if outputs is not None:
            values["outputs"] = _json(dict(outputs))
        edges = [
            sql.edge_row("run", run_id, "value", sha, relation, variable, run_id, name)
            for relation, hashes in (("input", inputs), ("output", outputs))
            for variable, sha in (hashes or {}).items()
        ]
        key = {"run_id": run_id, "name": name}
        current = tx.first(sql.STEP_STARTED_AT, key)
        row = dict(values)
        if row.get("ended_at") is not None:
            started = row.get("started_at") or (current[0] if current else None)
            if started is not None:
                row["duration"] = row["ended_at"] - started
        if current is None:
            row.update(key)
            tx.execute(sql.insert("steps", tuple(row)), row)
        else:
            tx.execute(sql.update_row("steps", tuple(row), tuple(key)), {**row, **key})
        if edges:
            tx.executemany(sql.INSERT_LINEAGE, edges)

    def reuse_step(
        self,
        run_id: str,
        name: str,
        source_run: str,
        source_step: str,
        *,
        cache_key: str | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
    ) -> tuple[str, str] | None:
        """Record step `name` of `run_id` as succeeded by reuse of step `source_step` of `source_run` (a cache
        hit, or the run being resumed), carrying exactly what that step execution logged: its metrics (values,
        steps and timestamps, in order), params, tags and artifacts, marked with where they were logged.

        Returns that origin, (run, step): the source itself, or, when the source was reused too, its origin, so
        chains of cached runs keep pointing at the execution that logged the values. Returns None and writes
        nothing when the store has no succeeded `source_step` in `source_run` (its records are gone)."""

        def write(tx: Tx) -> tuple[str, str] | None:
            found = tx.first(sql.SELECT_REUSABLE_STEP, {"run_id": source_run, "name": source_step})
            if found is None:
                return None
            origin = (found[0] or source_run, found[1] or source_step)
            self._write_step(
                tx,
                run_id,
                name,
                "succeeded",
                cache_hit=True,
                cache_key=cache_key,
                inputs=inputs,
                outputs=outputs,
                reused_from_run=origin[0],
                reused_from_step=origin[1],
            )
            target = {"run_id": run_id, "step_name": name}
            source = {"source_run": source_run, "source_step": source_step}
            # the step's records are replaced, never added to: reusing twice leaves one copy
            for statement in sql.DELETE_STEP_RECORDS.values():
                tx.execute(statement, target)
            tx.execute(sql.DELETE_STEP_ARTIFACT_EDGES, target)
            tx.execute(sql.COPY_METRICS, {**target, **source})
            tx.upsert(
                "params", [{**row, **target} for row in tx.all(sql.SELECT_SOURCE_PARAMS, source)], ("run_id", "key")
            )
            tx.upsert("tags", [{**row, **target} for row in tx.all(sql.SELECT_SOURCE_TAGS, source)], ("run_id", "key"))
            artifacts = [{**row, **target} for row in tx.all(sql.SELECT_SOURCE_ARTIFACTS, source)]
            if artifacts:  # the same blobs: content-addressed, nothing is copied but the rows
                tx.executemany(sql.INSERT_ARTIFACT, artifacts)
                tx.executemany(
                    sql.INSERT_LINEAGE,
                    [
                        sql.edge_row("run", run_id, "artifact", a["sha256"], "output", a["name"], run_id, name)
                        for a in artifacts
                    ],
                )
            return origin

        return self.db.transaction(write)

    def steps(self, run_id: str) -> list[StepInfo]:
        from nbmlops.store.records import StepInfo

        return [StepInfo.from_row(r) for r in self.db.query(sql.SELECT_STEPS, {"run_id": run_id})]

    # -- artifacts ------------------------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, source: bytes | str | Path, name: str | None = None, *, step_name: str | None = None
    ) -> list[ArtifactInfo]:
        """Store bytes, a file, or every file under a folder (named by relative path); returns the records."""
        from nbmlops.store.records import ArtifactInfo

        items: list[tuple[str, Any]] = []
        if isinstance(source, bytes | bytearray):
            if not name:
                raise RunError("log_artifact(bytes) needs a name")
            items.append((name, self.artifacts.put_bytes(bytes(source))))
        else:
            path = Path(source)
            if path.is_dir():
                base = name or path.name
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    items.append((f"{base}/{file.relative_to(path).as_posix()}", self.artifacts.put_file(file)))
            elif path.is_file():
                items.append((name or path.name, self.artifacts.put_file(path)))
            else:
                raise RunError(f"log_artifact: {path} is not a file or folder")
        now = time.time()
        rows = [
            {
                "run_id": run_id,
                "step_name": step_name,
                "name": n,
                "sha256": b.sha256,
                "size": b.size,
                "path": b.uri,
                "created_at": now,
            }
            for n, b in items
        ]

        edges = [
            sql.edge_row("run", run_id, "artifact", r["sha256"], "output", r["name"], run_id, step_name) for r in rows
        ]

        def write(tx: Tx) -> None:
            if rows:
                tx.executemany(sql.INSERT_ARTIFACT, rows)
                tx.executemany(sql.INSERT_LINEAGE, edges)

        self.db.transaction(write)
        return [ArtifactInfo(r["run_id"], r["name"], r["sha256"], r["size"], r["path"], step_name, now) for r in rows]

    def artifacts_of(self, run_id: str) -> list[ArtifactInfo]:
        from nbmlops.store.records import ArtifactInfo

        return [ArtifactInfo(**row) for row in self.db.query(sql.SELECT_ARTIFACTS, {"run_id": run_id})]

    # -- lineage --------------------------------------------------------------------------------------------
    def add_edge(
        self,
        from_kind: str,
        from_id: str,
        to_kind: str,
        to_id: str,
        relation: str,
        *,
        name: str | None = None,
        run_id: str | None = None,
        step_name: str | None = None,
    ) -> None:
        self.db.execute(
            sql.INSERT_LINEAGE, sql.edge_row(from_kind, from_id, to_kind, to_id, relation, name, run_id, step_name)
        )

    def edges(self, kind: str, id_: str, direction: str = "both") -> list[Edge]:
        """Edges leaving ('out'), entering ('in') or touching ('both') the node kind/id."""
        from nbmlops.store.records import Edge

        statement = sql.SELECT_EDGES[direction]
        return [Edge.from_row(r) for r in self.db.query(statement, {"kind": kind, "id": id_})]

    def _where(self) -> str:
        return self.db.where


def _mark_reused(run: RunInfo, field: str, origin: dict[str, str] | None) -> None:
    if origin is not None:
        run.reused[field] = origin


def _run_info(row: dict[str, Any]) -> RunInfo:
    from nbmlops.store.records import RunInfo

    return RunInfo.from_row(row)


def new_run_id() -> str:
    """Sortable and unique: the same shape as the runner's run folders (UTC time + 32 random bits)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


def open_store(home: str | Path | None = None, *, db_url: str | None = None, artifact_root: str | None = None) -> Store:
    """The store of the project at `home` (found from the working directory by default); explicit arguments
    override the settings from env and nbmlops.toml."""
    settings = load_settings(home)
    if db_url or artifact_root:
        settings = settings._replace(
            db_url=db_url or settings.db_url, artifact_root=artifact_root or settings.artifact_root
        )
    return Store(settings)
