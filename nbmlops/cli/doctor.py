"""`nbmlops doctor`: check each configured part of the project's setup — the database (reachable, at the schema
this nbmlops expects), the artifact root (a file written, read back and removed), Ray (the configured
address, or the local cluster `nbmlops ray start` keeps, answers), the online store (reachable) — and print one
line per part. Exit 2 when any part is wrong, naming what and where, as every user error does."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import NamedTuple

import click

CONNECT_TIMEOUT_S = 5.0


class Check(NamedTuple):
    part: str
    ok: bool
    detail: str


def check_database(url: str) -> Check:
    from nbmlops.store.db import HEAD, make_engine, redact, sqlite_file, stamped_revisions

    where = redact(url)
    path = sqlite_file(url)
    if path is not None and not os.path.isfile(path):
        return Check("database", True, f"{where}: not made yet (the first run creates it)")
    try:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                revisions = stamped_revisions(conn)
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any driver error means unreachable; its first line says why
        return Check("database", False, f"{where}: unreachable: {_first_line(exc)}")
    if revisions is None:
        return Check(
            "database",
            False,
            f"{where}: reachable but holds no nbmlops schema (any nbmlops command that opens the store creates it)",
        )
    if revisions != {HEAD}:
        return Check(
            "database",
            False,
            f"{where}: schema at {', '.join(sorted(revisions))}, this nbmlops "
            f"expects {HEAD} (any command that opens the store upgrades an older one)",
        )
    return Check("database", True, f"{where}: reachable, schema at {HEAD}")


def check_artifact_root(url: str) -> Check:
    from nbmlops.store.filesystems import open_root

    probe = f".nbmlops-doctor-{os.urandom(6).hex()}"
    try:
        root = open_root(url)
        root.write_bytes(probe, b"nbmlops doctor")
        back = root.read_bytes(probe)
        root.delete(probe)
    except Exception as exc:  # noqa: BLE001 - permission, network, credentials: all say "not writable"
        return Check("artifact root", False, f"{url}: not writable: {_first_line(exc)}")
    if back != b"nbmlops doctor":
        return Check("artifact root", False, f"{url}: a file written there read back different bytes")
    return Check("artifact root", True, f"{url}: writable")


def check_ray(address: str | None) -> Check:
    from nbmlops.runners.ray_cluster import cluster_dir, recorded_cluster

    if not address:
        running = recorded_cluster()
        if running is None:
            return Check(
                "ray",
                True,
                "no address configured: --backend ray starts Ray per run (`nbmlops ray start` keeps one running)",
            )
        address, source = running.address, f"local cluster in {cluster_dir()}"
    else:
        source = "configured"
    if address == "auto":
        return Check("ray", True, "address 'auto': found by Ray at run time")
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return Check("ray", False, f"address '{address}' ({source}) is not HOST:PORT")
    problem = _connect(host, int(port))
    if problem:
        return Check("ray", False, f"{address} ({source}): unreachable: {problem}")
    return Check("ray", True, f"{address} ({source}): answers")


def check_online_store(url: str | None, home: str) -> Check:
    if not url:
        return Check("online store", True, f"SQLite in {home} (the default)")
    if url.startswith(("redis://", "rediss://")):
        try:
            import redis

            client = redis.Redis.from_url(
                url, socket_timeout=CONNECT_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
            )
            client.ping()
            client.close()
        except Exception as exc:  # noqa: BLE001 - connection refused, auth, timeout
            return Check("online store", False, f"{url}: unreachable: {_first_line(exc)}")
        return Check("online store", True, f"{url}: answers")
    if url.startswith("sqlite:///"):
        folder = os.path.dirname(url.removeprefix("sqlite:///")) or "."
        if os.path.isdir(folder) and not os.access(folder, os.W_OK):
            return Check("online store", False, f"{url}: folder {folder} is not writable")
        return Check("online store", True, f"{url}: SQLite")
    return Check("online store", False, f"'{url}' is neither sqlite:///PATH nor redis://HOST:PORT/DB")


def _connect(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return ""
    except OSError as exc:
        return exc.strerror or str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run_checks() -> list[Check]:
    from nbmlops.store.config import load_settings

    settings = load_settings()
    checks: list[Callable[[], Check]] = [
        lambda: check_database(settings.db_url),
        lambda: check_artifact_root(settings.artifact_root),
        lambda: check_ray(settings.ray_address),
        lambda: check_online_store(settings.online_store, str(settings.home)),
    ]
    return [check() for check in checks]


@click.command("doctor")
def doctor() -> None:
    """Check the database, artifact root, Ray and online store this project is configured with."""
    results = run_checks()
    width = max(len(c.part) for c in results)
    for check in results:
        click.echo(f"{'ok ' if check.ok else 'BAD'}  {check.part:<{width}}  {check.detail}")
    if not all(check.ok for check in results):
        raise SystemExit(2)
