"""Real-time serving: `nbmlops serve` vs `mlflow models serve` of the same scikit-learn model, 127.0.0.1 only.

Both servers get the same request bodies on the same route (/invocations, MLflow's `dataframe_split`), from the
same load generator (aiohttp in its own process, keep-alive connections, each client sending its next request
when the last one was answered). Measured, taking turns server by server (A B A B ...), medians of the rounds:
  - single-row requests with 1 and with 8 concurrent clients: requests/s, p50, p99;
  - a 1,000-row batch, sequential: latency;
  - nbmlops with feature enrichment on (a graph: entity key -> online store -> the model), /predict with only
    `customer_id`, against nbmlops without it (the features sent in the request);
  - the Ray Serve engine (`--engine ray`, one replica), unless --no-ray.
MLflow lives in its own virtualenv, bench/.peers/mlflow (made on first use, as bench_tracking.py does). Both log
nothing extra: nbmlops logs every prediction for monitoring, as it does by default; MLflow has no such log.

Usage: .venv/bin/python bench/bench_serving.py [--seconds 4] [--rounds 3] [--no-ray]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _common import BENCH, WORK, fresh_dir, machine, tool

PEER = BENCH / ".peers" / "mlflow"
FEATURES = [f"f{i}" for i in range(8)]


# -- the load generator (runs in its own process: python bench_serving.py --loadgen ...) ----------------------
async def _load(url: str, body: bytes, clients: int, seconds: float, content_type: str) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(url, data=body, headers={"content-type": content_type}) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(20):  # warm the connections and the server
            async with session.post(url, data=body, headers={"content-type": content_type}) as response:
                await response.read()
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        "n": len(ordered),
        "errors": errors,
    }


def load(url: str, body: bytes, clients: int, seconds: float, content_type: str = "application/json") -> dict:
    body_file = WORK / "serving" / f"body-{os.getpid()}.json"
    body_file.write_bytes(body)
    done = subprocess.run(
        [sys.executable, __file__, "--loadgen", url, str(body_file), str(clients), str(seconds), content_type],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    if done.returncode != 0:
        raise ServerFailed(f"the load generator failed on {url}: {done.stderr.strip().splitlines()[-1]}")
    result = json.loads(done.stdout)
    if result["errors"]:
        raise ServerFailed(f"{result['errors']} requests to {url} failed")
    return result


# -- set-up ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_peer() -> Path:
    python = PEER / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import mlflow"], capture_output=True) if python.exists() else None
    if check is None or check.returncode != 0:
        print("bench: installing MLflow into bench/.peers/mlflow (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow>=3,<4", "scikit-learn"], check=True)
    return python


def prepare(work: Path) -> dict:
    """The model (registered in nbmlops, saved as an MLflow model by the peer), a feature set online, a graph."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    os.environ["NBMLOPS_HOME"] = str(work / ".nbmlops")
    import nbmlops
    from nbmlops.features import FeatureSet, FeatureVector, get_online_features

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(0, 1, (10_000, len(FEATURES))), columns=FEATURES)
    y = (X.f0 + X.f1 * 0.5 - X.f2 > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    nbmlops.register_model(model, "churn", input_example=X.head(), reference_data=X.head(2000))
    nbmlops.set_alias("churn", "production", 1)
    joblib.dump(model, work / "model.joblib")
    X.head(5).to_parquet(work / "example.parquet")
    customers = FeatureSet("customers", entities=["customer_id"], timestamp="ts", features=FEATURES)
    customers.ingest(X.assign(customer_id=np.arange(len(X)), ts=pd.Timestamp("2026-01-01")))
    vector = FeatureVector("churn_features", [f"customers.{f}" for f in FEATURES])
    get_online_features(vector, [{"customer_id": 0}])
    (work / "graph.py").write_text(
        textwrap.dedent(f"""
        from nbmlops.features import FeatureVector
        from nbmlops.serving import Graph
        graph = Graph().enrich(FeatureVector("churn_features", {[f"customers.{f}" for f in FEATURES]!r})).model(
            "churn@production")
    """)
    )
    subprocess.run(
        [
            str(PEER / "bin" / "python"),
            "-c",
            textwrap.dedent(f"""
        import joblib, pandas as pd, mlflow.sklearn
        from mlflow.models import infer_signature
        model = joblib.load({str(work / "model.joblib")!r})
        X = pd.read_parquet({str(work / "example.parquet")!r})
        mlflow.sklearn.save_model(model, {str(work / "mlflow_model")!r}, signature=infer_signature(X, model.predict(X)))
    """),
        ],
        check=True,
        capture_output=True,
    )
    return {"X": X, "model": model}


class ServerFailed(Exception):
    pass


def start(argv: list[str], url: str, env: dict | None = None, timeout: float = 600) -> subprocess.Popen:
    """A server in its own process group (mlflow's uvicorn is a child of `mlflow models serve`), once `url`
    answers 200."""
    import urllib.request

    log = open(WORK / "serving" / f"server-{free_port()}.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=WORK / "serving",
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{argv[:3]} exited with {process.returncode} (log in {log.name})")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        time.sleep(0.5)
    stop(process)
    raise ServerFailed(f"{argv[:3]} did not answer {url} within {timeout:.0f}s (log in {log.name})")


def stop(process: subprocess.Popen) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# -- the measurement -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-requests", type=int, default=30)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    work = fresh_dir(WORK / "serving")
    peer = ensure_peer()
    data = prepare(work)
    X, model = data["X"], data["model"]
    version = subprocess.run(
        [str(peer), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    print(f"machine: {machine()}\nload average at start: {os.getloadavg()[0]:.1f}\nMLflow {version} in {PEER}\n")

    servers: dict[str, dict] = {}
    try:
        port = free_port()
        servers["mlflow"] = {
            "url": f"http://127.0.0.1:{port}",
            "process": start(
                [
                    str(PEER / "bin" / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    str(work / "mlflow_model"),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-w",
                    "1",
                ],
                f"http://127.0.0.1:{port}/ping",
                env={"NBMLOPS_HOME": "", "PATH": f"{PEER / 'bin'}{os.pathsep}{os.environ['PATH']}"},
            ),
        }  # its uvicorn
        port = free_port()
        servers["nbmlops"] = {
            "url": f"http://127.0.0.1:{port}",
            "process": start(
                [tool("nbmlops"), "serve", "churn@production", "--port", str(port)], f"http://127.0.0.1:{port}/ready"
            ),
        }
        port = free_port()
        servers["nbmlops+enrich"] = {
            "url": f"http://127.0.0.1:{port}",
            "process": start(
                [tool("nbmlops"), "serve", f"{work / 'graph.py'}:graph", "--port", str(port)],
                f"http://127.0.0.1:{port}/ready",
            ),
        }
        if not args.no_ray:
            port = free_port()
            try:
                servers["nbmlops ray"] = {
                    "url": f"http://127.0.0.1:{port}",
                    "process": start(
                        [tool("nbmlops"), "serve", "churn@production", "--engine", "ray", "--port", str(port)],
                        f"http://127.0.0.1:{port}/ready",
                        timeout=900,
                    ),
                }
            except ServerFailed as exc:
                print(f"Ray Serve engine left out: {exc}\n")

        one_row = json.dumps({"dataframe_split": X.iloc[[7]].to_dict("split")}).encode()
        batch = json.dumps({"dataframe_split": X.iloc[:1000].to_dict("split")}).encode()
        by_key = json.dumps({"rows": [{"customer_id": 7}]}).encode()
        sent_features = json.dumps({"rows": [X.iloc[7].to_dict()]}).encode()
        # every server answers what the model predicts
        import urllib.request

        for name, server in servers.items():
            route, body = ("/predict", by_key) if name == "nbmlops+enrich" else ("/invocations", batch)
            request = urllib.request.Request(
                server["url"] + route, data=body, headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())["predictions"]
            expected = model.predict(X.iloc[[7]] if name == "nbmlops+enrich" else X.iloc[:1000]).tolist()
            assert answer == expected, name

        results: dict[tuple[str, str], list[dict]] = {}
        plain = [n for n in servers if n != "nbmlops+enrich"]
        for _ in range(args.rounds):
            for clients in (1, 8):
                for name in list(plain):
                    try:
                        results.setdefault((name, f"{clients}"), []).append(
                            load(servers[name]["url"] + "/invocations", one_row, clients, args.seconds)
                        )
                    except ServerFailed as exc:
                        if name != "nbmlops ray":
                            raise
                        print(f"Ray Serve engine left out: {exc}\n")  # its proxy on a loaded machine
                        plain.remove(name)
                        results = {k: v for k, v in results.items() if k[0] != name}
                results.setdefault(("nbmlops+enrich", f"{clients}"), []).append(
                    load(servers["nbmlops+enrich"]["url"] + "/predict", by_key, clients, args.seconds)
                )
                results.setdefault(("nbmlops /predict, features sent", f"{clients}"), []).append(
                    load(servers["nbmlops"]["url"] + "/predict", sent_features, clients, args.seconds)
                )
            for name in plain:
                results.setdefault((name, "batch"), []).append(
                    load(servers[name]["url"] + "/invocations", batch, 1, args.seconds)
                )
    except ServerFailed as exc:
        sys.exit(f"bench: {exc}")
    finally:
        for server in servers.values():
            stop(server["process"])

    def med(name: str, key: str, field: str) -> float:
        return statistics.median(r[field] for r in results[(name, key)])

    print(f"single-row requests, {args.seconds:g} s per measurement, median of {args.rounds} rounds")
    print(f"{'server':34} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for clients in ("1", "8"):
        for name in [*plain, "nbmlops /predict, features sent", "nbmlops+enrich"]:
            print(
                f"{name:34} {clients:>7} {med(name, clients, 'rps'):8.0f} {med(name, clients, 'p50_ms'):8.2f} "
                f"{med(name, clients, 'p99_ms'):8.2f}"
            )
    print("\n1,000-row batch (dataframe_split), sequential")
    for name in plain:
        print(f"{name:34} {med(name, 'batch', 'p50_ms'):8.1f} ms p50  {med(name, 'batch', 'p99_ms'):8.1f} ms p99")
    print()
    for clients in ("1", "8"):
        ratio = med("nbmlops", clients, "rps") / med("mlflow", clients, "rps")
        p99 = med("nbmlops", clients, "p99_ms") < med("mlflow", clients, "p99_ms")
        print(
            f"{clients} client(s): nbmlops/mlflow throughput {ratio:.2f}x, p99 lower: {p99}"
            + (
                f"  (target >= 3x with a lower p99: {'met' if ratio >= 3 and p99 else 'NOT met'})"
                if clients == "8"
                else ""
            )
        )
    extra = med("nbmlops+enrich", "1", "p50_ms") - med("nbmlops /predict, features sent", "1", "p50_ms")
    print(f"enrichment adds {extra:.2f} ms p50 (1 client)  (target < 1 ms: {'met' if extra < 1 else 'NOT met'})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        url, body_path, clients, seconds, kind = sys.argv[2:7]
        print(json.dumps(asyncio.run(_load(url, Path(body_path).read_bytes(), int(clients), float(seconds), kind))))
    else:
        main()
