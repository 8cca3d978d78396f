"""Drift detection: nbmlops vs Evidently's DataDriftPreset, on the same data, in the same run.

    .venv/bin/python bench/bench_drift.py                      # 100,000 rows
    .venv/bin/python bench/bench_drift.py --rows 100000 1000000 --nbmlops-only 10000000
    .venv/bin/python bench/bench_drift.py --rows 1000000 --pvalues none --reuse-evidently   # while developing

Data: reference and current frames of N rows, 20 numeric + 5 categorical columns, 5 numeric columns shifted.
Every tool runs in its own subprocess (peak memory = that process's peak RSS counted from when its data is loaded,
data included; "over data" subtracts the RSS of the loaded data; nbmlops and numpy take the best of 3 runs below
2,000,000 rows, Evidently runs once) and reads the same .npz files. Timings exclude loading and imports: nbmlops
warms up on 50,000 rows first, so its lazy imports are not timed (and what it does not import is not in its memory:
scipy, for the default tests); Evidently imports everything at `import evidently`. Both import after the peak count
starts, so both peaks include their imports.
Every Evidently result is saved under bench/.work/drift/N/; `--reuse-evidently` reads the saved one instead of
running Evidently again (minutes at 1,000,000 rows) and says so: for development, not for published figures.
Evidently 0.7 needs pandas < 3, so it runs from its own virtualenv, bench/.peers/evidently (created here on first
use: pip install "evidently==0.7.*" "pandas<3"). Reported: seconds, peak memory, ratios, the numpy baseline (sorting
every numeric column of both frames once), and agreement of every column's score with Evidently and with scipy, for
the default tests (Wasserstein / Jensen-Shannon at these sizes) and with KS + chi-square forced (p-values).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work" / "drift"
PEER = BENCH / ".peers" / "evidently"
PEER_PY = PEER / "bin" / "python"
N_NUM, N_CAT, N_SHIFTED = 20, 5, 5
NUM = [f"num_{i}" for i in range(N_NUM)]
CAT = [f"cat_{i}" for i in range(N_CAT)]
EVIDENTLY_TIMEOUT_S = 1800
# Evidently reports a chosen test by its display name, a forced one by its id
EVIDENTLY_TESTS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}


# -- data ---------------------------------------------------------------------------------------------------------
def make_data(rows: int) -> Path:
    folder = WORK / str(rows)
    if (folder / "cur.npz").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(rows)
    labels = np.array(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"])
    probs = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03])
    for side in ("ref", "cur"):
        arrays = {}
        for i, name in enumerate(NUM):
            kind = i % 3
            values = (
                rng.normal(10, 3, rows)
                if kind == 0
                else rng.lognormal(1, 0.5, rows)
                if kind == 1
                else rng.uniform(0, 100, rows)
            )
            if side == "cur" and i < N_SHIFTED:
                values = values + 0.5 * values.std()  # the drifted columns
            arrays[name] = values
        for name in CAT:
            arrays[name] = labels[rng.choice(len(labels), rows, p=probs)]
        np.savez(folder / f"{side}.npz", **arrays)
    return folder


# -- workers (run in subprocesses; each prints one JSON line) -------------------------------------------------------
def _load(folder: Path):
    import pandas as pd

    frames = []
    for side in ("ref", "cur"):
        with np.load(folder / f"{side}.npz") as npz:
            frames.append(pd.DataFrame({k: npz[k] for k in NUM + CAT}))
    return frames


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Start the peak-RSS count now (Linux: clear_refs 5 resets VmHWM), so loading the data's own transient peak
    (npz arrays next to the DataFrame) is not charged to the tool."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mib() -> float:
    """Peak RSS since _reset_peak (else since the process started)."""
    peak = _status_mib("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn, repeats: int) -> float:
    """Fastest of `repeats` runs: the machine is shared, the minimum is the least disturbed figure."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def worker(tool: str, folder: Path, mode: str) -> dict:
    ref, cur = _load(folder)
    out: dict = {"tool": tool, "mode": mode, "peak_reset": _reset_peak(), "loaded_mib": _status_mib("VmRSS")}
    repeats = 3 if len(ref) <= 2_000_000 else 1
    if tool == "numpy":
        arrays = [ref[c].to_numpy(dtype=np.float64) for c in NUM] + [cur[c].to_numpy(dtype=np.float64) for c in NUM]
        out["seconds"] = _best(lambda: [np.sort(a) for a in arrays], repeats)
        out["seconds_current_only"] = _best(lambda: [np.sort(a) for a in arrays[N_NUM:]], repeats)
    elif tool == "nbmlops":
        sys.path.insert(0, str(ROOT))
        from nbmlops.monitoring import build_reference, detect_drift

        tests = {c: "ks" for c in NUM} | {c: "chisquare" for c in CAT} if mode == "pvalues" else None
        # warm up: lazy imports and the thread pool, on the paths the timed run takes (above 10,000 rows KS needs no
        # scipy where its p-value is 0, as it is for the shifted columns: 2,000 rows would import scipy.stats)
        detect_drift(ref.head(50_000), cur.head(50_000), tests, progress=False)
        found = []
        out["seconds"] = _best(lambda: found.append(detect_drift(ref, cur, tests, progress=False)), repeats)
        result = found[-1]
        found.clear()
        out["peak_full_mib"] = _rss_mib()  # before the stored-profile phase below holds a whole profile
        profiles = []
        out["seconds_reference"] = _best(lambda: profiles.append(build_reference(ref)), 1)
        profile = profiles[0]
        out["seconds_current_only"] = _best(lambda: detect_drift(profile, cur, tests, progress=False), repeats)
        table = result.table.set_index("feature")
        out["scores"] = {c: float(table.loc[c, "score"]) for c in NUM + CAT}
        out["tests"] = {c: str(table.loc[c, "test"]) for c in NUM + CAT}
        out["drifted"] = sorted(table.index[table["drifted"]].tolist())
    elif tool == "scipy":
        from scipy import stats
        from scipy.spatial import distance

        scores = {}
        for c in NUM:
            r, k = ref[c].to_numpy(), cur[c].to_numpy()
            if mode == "pvalues":
                scores[c] = float(stats.ks_2samp(r, k).pvalue)
            else:
                scores[c] = float(stats.wasserstein_distance(r, k) / max(np.std(r), 0.001))
        for c in CAT:
            keys = sorted(set(ref[c]) | set(cur[c]))
            rc, kc = ref[c].value_counts(), cur[c].value_counts()
            p = np.array([rc.get(x, 0) for x in keys], dtype=float)
            q = np.array([kc.get(x, 0) for x in keys], dtype=float)
            if mode == "pvalues":
                scores[c] = float(stats.chisquare(q, p * q.sum() / p.sum()).pvalue)
            else:
                scores[c] = float(distance.jensenshannon(p / p.sum(), q / q.sum()))
        out["scores"] = scores
    elif tool == "evidently":
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=NUM, categorical_columns=CAT)
        preset = DataDriftPreset(num_method="ks", cat_method="chisquare") if mode == "pvalues" else DataDriftPreset()
        started = time.perf_counter()  # once: it takes minutes at 1,000,000 rows
        snapshot = Report([preset]).run(
            Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
        )
        found = snapshot.dict()
        out["seconds"] = time.perf_counter() - started
        scores, tests = {}, {}
        for metric in found["metrics"]:
            config = metric["config"]
            if config.get("type", "").endswith("ValueDrift"):
                scores[config["column"]] = float(metric["value"])
                method = config.get("method")
                tests[config["column"]] = EVIDENTLY_TESTS.get(method, method)
        out["scores"], out["tests"] = scores, tests
    else:
        raise SystemExit(f"unknown tool {tool}")
    out["peak_mib"] = out.pop("peak_full_mib", None) or _rss_mib()
    out["peak_all_phases_mib"] = _rss_mib()
    return out


# -- driver -----------------------------------------------------------------------------------------------------------
def ensure_peer() -> bool:
    if PEER_PY.exists():
        return True
    print(f"creating {PEER} (evidently==0.7.*, pandas<3) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    done = subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", "evidently==0.7.*", "pandas<3"], check=False)
    return done.returncode == 0


def run_worker(python: str, tool: str, folder: Path, mode: str, timeout: float | None = None) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    try:
        proc = subprocess.run(
            [python, __file__, "--worker", tool, str(folder), mode],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"tool": tool, "error": f"did not finish in {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"tool": tool, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def max_diff(a: dict, b: dict) -> float:
    return max(abs(a[c] - b[c]) for c in a if c in b)


def report(rows: int, mode: str, results: dict[str, dict]) -> None:
    from _common import print_table

    print(
        f"\n## {rows:,} rows per side, {N_NUM} numeric ({N_SHIFTED} shifted) + {N_CAT} categorical columns, "
        f"{'KS + chi-square forced (p-values)' if mode == 'pvalues' else 'default tests'}"
    )
    table = []
    for tool in ("nbmlops", "evidently", "numpy"):
        r = results.get(tool)
        if r is None:
            continue
        if "error" in r:
            table.append([tool, r["error"], "", "", ""])
            continue
        extra = ""
        if tool == "nbmlops":
            extra = (
                f"reference profile {r['seconds_reference']:.2f} s, run with stored profile "
                f"{r['seconds_current_only']:.2f} s (peak with the profile held {r['peak_all_phases_mib']:.0f} MiB)"
            )
        if tool == "numpy":
            extra = f"sorting only the current columns {r['seconds_current_only']:.2f} s"
        table.append(
            [tool, f"{r['seconds']:.2f}", f"{r['peak_mib']:.0f}", f"{r['peak_mib'] - r['loaded_mib']:.0f}", extra]
        )
    print_table(["tool", "seconds", "peak MiB", "peak over data MiB", "notes"], table)
    nb, ev, npy, sp = (results.get(k, {}) for k in ("nbmlops", "evidently", "numpy", "scipy"))
    if "seconds" in nb and "seconds" in ev:
        print(
            f"Evidently / nbmlops time: {ev['seconds'] / nb['seconds']:.1f}x (target >= 30x); with a stored "
            f"reference profile: {ev['seconds'] / nb['seconds_current_only']:.1f}x"
        )
        print(
            f"nbmlops / Evidently peak memory: {nb['peak_mib'] / ev['peak_mib']:.2f} (target < 0.25); over the "
            f"loaded data: {(nb['peak_mib'] - nb['loaded_mib']) / max(ev['peak_mib'] - ev['loaded_mib'], 1):.2f}"
        )
    if "seconds" in nb and "seconds" in npy:
        current_only = nb["seconds_current_only"] / npy["seconds_current_only"]
        print(
            f"nbmlops / numpy sort-once: {nb['seconds'] / npy['seconds']:.2f}x (target <= 2x); stored-profile "
            f"run / sorting the current columns once: {current_only:.2f}x"
        )
    if "scores" in nb and "scores" in ev:
        same_tests = all(nb["tests"][c] == ev["tests"].get(c) for c in nb["tests"])
        print(
            f"scores vs Evidently: max |diff| {max_diff(nb['scores'], ev['scores']):.2e} over {len(ev['scores'])} "
            f"columns; same tests chosen: {same_tests}"
        )
    if "scores" in nb and "scores" in sp:
        print(f"scores vs scipy: max |diff| {max_diff(nb['scores'], sp['scores']):.2e}")
    if "drifted" in nb:
        print(f"nbmlops drifted columns: {', '.join(nb['drifted']) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--nbmlops-only", type=int, nargs="*", default=[], help="sizes run without Evidently")
    parser.add_argument(
        "--pvalues",
        choices=["smallest", "all", "none"],
        default="smallest",
        help="also compare KS/chi-square p-values (at the smallest size by default)",
    )
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument(
        "--reuse-evidently",
        action="store_true",
        help="read Evidently's saved result for each size instead of running it (development only)",
    )
    parser.add_argument("--worker", nargs=3, metavar=("TOOL", "FOLDER", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, folder, mode = args.worker
        print(json.dumps(worker(tool, Path(folder), mode)))
        return
    sys.path.insert(0, str(BENCH))
    from _common import machine

    print(f"# bench_drift · {machine()}")
    have_peer = not args.no_evidently and ensure_peer()
    sizes = [(n, True) for n in args.rows] + [(n, False) for n in args.nbmlops_only]
    for i, (rows, with_peer) in enumerate(sizes):
        folder = make_data(rows)
        modes = ["default"]
        if args.pvalues == "all" or (args.pvalues == "smallest" and i == 0):
            modes.append("pvalues")
        for mode in modes:
            results = {
                "nbmlops": run_worker(sys.executable, "nbmlops", folder, mode),
                "scipy": run_worker(sys.executable, "scipy", folder, mode),
            }
            if mode == "default":
                results["numpy"] = run_worker(sys.executable, "numpy", folder, mode)
            saved = folder / f"evidently-{mode}.json"
            if with_peer and args.reuse_evidently and saved.exists():
                results["evidently"] = json.loads(saved.read_text())
                print(
                    f"(Evidently, {rows:,} rows, {mode}: the result saved {results['evidently']['saved']}, not run now)"
                )
            elif with_peer and have_peer:
                results["evidently"] = run_worker(str(PEER_PY), "evidently", folder, mode, EVIDENTLY_TIMEOUT_S)
                if "error" not in results["evidently"]:
                    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                    saved.write_text(json.dumps(results["evidently"] | {"saved": stamp}))
            elif not with_peer:
                results["evidently"] = {"tool": "evidently", "error": "not run at this size (see --nbmlops-only)"}
            report(rows, mode, results)


if __name__ == "__main__":
    main()
