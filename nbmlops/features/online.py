"""The online store: per entity, the latest row features and a buffer of recent events for the windows.

State of one entity of one set version: t (its newest event time, ns), v (the row features of that event) and
w (events [ts, inputs...] newer than t - longest window, sorted by time, ties in arrival order).

Lateness rule: any event is accepted, however late. An event older than the entity's newest event minus the
longest window can change no value readable from now on, so it is stored offline only; every other event joins
the buffer at its place in time. Online values at any read time at or after the entity's newest event therefore
equal the batch computation over all events (the property test checks this for any order and batching).

SQLite (a file beside the metadata database) by default; Redis when the URL says redis://.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nbmlops.features.errors import FeatureError
from nbmlops.store.db import retry_locked

State = dict[str, Any]
Event = tuple[int, list[Any], list[Any]]  # (ts ns, row feature values, window input values)


def entity_key(values: Sequence[Any]) -> str:
    """One string per entity key; numpy scalars and Python ints of the same value give the same key."""
    parts = [str(v.item() if hasattr(v, "item") else v) for v in values]
    return parts[0] if len(parts) == 1 else "\x1f".join(parts)


def merge(state: State | None, events: Iterable[Event], max_window_ns: int) -> State:
    """Apply events in arrival order (see the lateness rule above)."""
    t, v, w = (state["t"], state["v"], state.get("w") or []) if state else (None, None, [])
    for ts, row, inputs in events:
        if t is None or ts >= t:  # ties: the later arrival wins, as in the offline join
            t, v = ts, row
        if max_window_ns and ts > t - max_window_ns:
            w.insert(bisect.bisect_right(w, ts, key=lambda e: e[0]), [ts, *inputs])
    if max_window_ns and w and w[0][0] <= t - max_window_ns:
        cut = bisect.bisect_right(w, t - max_window_ns, key=lambda e: e[0])
        w = w[cut:]
    return {"t": t, "v": v, "w": w} if max_window_ns else {"t": t, "v": v}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def _pack(values: list[Any]) -> str | bytes:
    """All-number rows as float64 bytes (NaN = null): decoding 1,000 rows is one numpy call, not 1,000 parses."""
    if values and all(type(x) is float or x is None for x in values):
        return np.array([np.nan if x is None else x for x in values], dtype=np.float64).tobytes()
    return _dumps(values)


def _unpack_many(raw: list[str | bytes]) -> list[list[Any]]:
    out: list[list[Any] | None] = [None] * len(raw)
    packed = [i for i, r in enumerate(raw) if isinstance(r, bytes)]
    if packed:
        width = len(raw[packed[0]])
        if all(len(raw[i]) == width for i in packed):
            numbers = np.frombuffer(b"".join(raw[i] for i in packed), dtype=np.float64).reshape(len(packed), -1)
            cells = numbers.astype(object)
            cells[np.isnan(numbers)] = None
            for i, row in zip(packed, cells.tolist(), strict=True):
                out[i] = row
        else:
            for i in packed:
                out[i] = _unpack_many([raw[i]])[0]
    texts = [i for i, r in enumerate(raw) if not isinstance(r, bytes)]
    if texts:
        for i, row in zip(texts, json.loads("[" + ",".join(raw[i] for i in texts) + "]"), strict=True):
            out[i] = row
    return out  # type: ignore[return-value]


class OnlineBackend:
    url: str

    def get(self, table: str, keys: Sequence[str]) -> list[State | None]:
        raise NotImplementedError

    def update(self, table: str, events: dict[str, list[Event]], max_window_ns: int) -> None:
        """Merge events into the states of their entities, in one transaction where the backend has them."""
        raise NotImplementedError

    def put_latest(self, table: str, rows: list[tuple[str, int, list[Any]]]) -> None:
        """Sets without windows: (key, ts, values) replaces the state unless a newer event is stored."""
        self.update(table, {k: [(ts, v, [])] for k, ts, v in rows}, 0)

    def count(self, table: str) -> int:
        raise NotImplementedError

    def drop(self, table: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SQLiteOnline(OnlineBackend):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS online (tbl TEXT NOT NULL, k TEXT NOT NULL, t INTEGER NOT NULL,"
                " v BLOB NOT NULL, w TEXT, PRIMARY KEY (tbl, k)) WITHOUT ROWID"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # one connection per thread: sqlite3 connections are not shared across threads
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            # Switching a new file to WAL can answer "locked" at once, without the busy wait, while another
            # process opens the same file: retried like the metadata database's switch.
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"), f"opening the online store {self.path}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, table: str, keys: Sequence[str]) -> list[State | None]:
        conn = self._conn()
        if len(keys) == 1:  # the hot path of a single lookup
            row = conn.execute("SELECT t, v, w FROM online WHERE tbl = ? AND k = ?", (table, keys[0])).fetchone()
            return [_state(row) if row else None]
        found: dict[str, State] = {}
        for i in range(0, len(keys), 900):
            chunk = list(keys[i : i + 900])
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT k, t, v, w FROM online WHERE tbl = ? AND k IN ({marks})", (table, *chunk)
            ).fetchall()
            # one json.loads for the whole chunk: per-call overhead dominates for short value lists
            values = _unpack_many([r[2] for r in rows])
            buffers = json.loads("[" + ",".join(r[3] or "null" for r in rows) + "]")
            for (k, t, _, w), v, buf in zip(rows, values, buffers, strict=True):
                found[k] = {"t": t, "v": v, "w": buf} if w is not None else {"t": t, "v": v}
        return [found.get(k) for k in keys]

    def update(self, table: str, events: dict[str, list[Event]], max_window_ns: int) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")  # read-merge-write of these entities is atomic against other writers
        try:
            keys = list(events)
            old = dict(zip(keys, self.get(table, keys), strict=True))
            rows = []
            for key, items in events.items():
                state = merge(old[key], items, max_window_ns)
                rows.append((table, key, state["t"], _pack(state["v"]), _dumps(state["w"]) if "w" in state else None))
            conn.executemany("INSERT OR REPLACE INTO online (tbl, k, t, v, w) VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def put_latest(self, table: str, rows: list[tuple[str, int, list[Any]]]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO online (tbl, k, t, v) VALUES (?, ?, ?, ?) ON CONFLICT (tbl, k) DO UPDATE SET "
                "t = excluded.t, v = excluded.v WHERE excluded.t >= online.t",
                ((table, k, ts, _pack(v)) for k, ts, v in rows),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def count(self, table: str) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM online WHERE tbl = ?", (table,)).fetchone()[0]

    def drop(self, table: str) -> None:
        self._conn().execute("DELETE FROM online WHERE tbl = ?", (table,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _state(row: tuple[Any, ...]) -> State:
    t, v, w = row
    state: State = {"t": t, "v": _unpack_many([v])[0]}
    if w is not None:
        state["w"] = json.loads(w)
    return state


class RedisOnline(OnlineBackend):
    """One Redis string per entity (JSON state) under nbf:<project>:<set>:v<N>:<key>. Writes read, merge and
    write back inside WATCH/MULTI, retried when another writer touched the same entities."""

    def __init__(self, url: str, namespace: str) -> None:
        try:
            import redis
        except ImportError:
            raise FeatureError(f"online store {url} needs the redis client: pip install redis") from None
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.prefix = f"nbf:{hashlib.sha256(namespace.encode()).hexdigest()[:10]}:"
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise FeatureError(f"online store {url} is not reachable: {exc}") from None

    def _k(self, table: str, key: str) -> str:
        return f"{self.prefix}{table}:{key}"

    def get(self, table: str, keys: Sequence[str]) -> list[State | None]:
        if len(keys) == 1:
            raw = [self.client.get(self._k(table, keys[0]))]
        else:
            raw = self.client.mget([self._k(table, k) for k in keys])
        return [json.loads(r) if r is not None else None for r in raw]

    def update(self, table: str, events: dict[str, list[Event]], max_window_ns: int) -> None:
        import redis

        keys = list(events)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            names = [self._k(table, k) for k in chunk]
            while True:
                with self.client.pipeline() as pipe:
                    try:
                        pipe.watch(*names)
                        old = pipe.mget(names)
                        pipe.multi()
                        for key, name, raw in zip(chunk, names, old, strict=True):
                            state = merge(json.loads(raw) if raw is not None else None, events[key], max_window_ns)
                            pipe.set(name, _dumps(state))
                        pipe.execute()
                        break
                    except redis.WatchError:
                        continue

    def count(self, table: str) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{self.prefix}{table}:*", count=1000))

    def drop(self, table: str) -> None:
        names = list(self.client.scan_iter(match=f"{self.prefix}{table}:*", count=1000))
        for i in range(0, len(names), 1000):
            self.client.delete(*names[i : i + 1000])

    def close(self) -> None:
        self.client.close()


def open_online(url: str | None, *, default_path: Path, namespace: str) -> OnlineBackend:
    if not url:
        return SQLiteOnline(default_path)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnline(url, namespace)
    if url.startswith("sqlite:///"):
        return SQLiteOnline(url[len("sqlite:///") :])
    raise FeatureError(f"online store URL '{url}' is not sqlite:///PATH or redis://HOST:PORT/DB")
