"""False-positive rate of drift tests: nbmlops's default (calibrated) tests vs Evidently's rule, on the same samples.

    .venv/bin/python bench/bench_drift_calibration.py                          # about 20 minutes on 2 cores
    .venv/bin/python bench/bench_drift_calibration.py --sizes 100 800 1000 --no-evidently   # quick

Every reference and current frame holds one distribution on both sides; each of its columns is one trial (seeded):
equal sizes from 100 to 1,000,000 rows, and a small current batch against a large reference.
nbmlops runs detect_drift on the frames twice: by default (calibrated two-sample tests) and with tests="evidently"
(Evidently's tests, ported number for number). Evidently 0.7 itself runs DataDriftPreset on the same frames (saved
as .npz, read in its own virtualenv bench/.peers/evidently, shared with bench_drift.py) up to --evidently-max rows,
on the first --evidently-trials columns (it is slow: about 10 minutes for all of them):
its per-column verdicts come from each ValueDrift's score, method and threshold with Evidently's comparisons, and
are checked against its own DriftedColumnsCount. Reported per distribution and size: the test each side chose and
the share of columns it flagged (a false-positive rate: nothing drifted), with a Clopper-Pearson 95% upper bound
for nbmlops's default; how often the Evidently port and Evidently agree column by column. Then the power of both
defaults on known shifts. Data and Evidently's answers are kept under bench/.work/drift_calibration/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work" / "drift_calibration"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

SIZES = [100, 800, 1000, 10_000, 100_000, 1_000_000]  # rows per side
SEED = 20_261_203
# Evidently's comparisons per method (its legacy stattests): p-values drift below (KS: at or below), distances at
# or above the threshold
EVIDENTLY_RULE = {
    "K-S p_value": "p<=",
    "chi-square p_value": "p<",
    "Z-test p_value": "p<",
    "Wasserstein distance (normed)": ">=",
    "Jensen-Shannon distance": ">=",
    "PSI": ">=",
}
EVIDENTLY_TESTS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


def zipf(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** 1.2
    return weights / weights.sum()


# name -> (kind, draw(rng, n) -> values)
DISTRIBUTIONS = {
    **{f"{k} categories, equal": ("categorical", k, np.full(k, 1.0 / k)) for k in (2, 5, 10, 50)},
    **{f"{k} categories, Zipf": ("categorical", k, zipf(k)) for k in (5, 50)},
    "numeric, normal": ("numeric", None, None),
    "numeric, Poisson(3)": ("numeric", None, "poisson"),
    "numeric, 3 values": ("numeric", None, np.array([0.5, 0.3, 0.2])),
}


# (reference rows, current rows): equal sizes, and a small current batch against a large reference, where a
# distance of two samples is mostly noise
PAIRS = [(n, n) for n in SIZES] + [(10_000, 100), (100_000, 300), (1_000_000, 1000)]


def columns_for(n: int, cap: int) -> int:
    """Trials (columns per frame) at n rows: fewer for the large frames, so a run fits in memory and minutes."""
    return min(cap, 1000 if n <= 10_000 else 200 if n <= 100_000 else 20)


def draw(name: str, rng: np.random.Generator, n: int, shift: str | None = None) -> np.ndarray | pd.Categorical:
    kind, k, spec = DISTRIBUTIONS[name]
    if kind == "categorical":
        p = spec.copy()
        if shift == "proportions":  # a tenth of the rows move from the first category to the last
            p[0] -= 0.1
            p[-1] += 0.1
        labels = np.array([f"v{i:02d}" for i in range(k)] + ["new"])
        # "new category": one never seen before takes 5% of the rows
        p = np.append(p * 0.95, 0.05) if shift == "new category" else np.append(p, 0.0)
        return pd.Categorical.from_codes(rng.choice(len(p), n, p=p), categories=labels)
    if spec is None:
        return rng.normal(0.25 if shift == "mean shift" else 0.0, 1.0, n)
    if isinstance(spec, str):
        return rng.poisson(3.3 if shift == "mean shift" else 3.0, n).astype(np.float64)
    p = spec if shift != "mean shift" else np.array([0.4, 0.35, 0.25])
    return rng.choice(len(p), n, p=p).astype(np.float64)


def frames(
    name: str, n: int, trials: int, shift: str | None = None, n_cur: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_cur = n if n_cur is None else n_cur
    rng = np.random.default_rng([SEED, n, n_cur, list(DISTRIBUTIONS).index(name), 0 if shift is None else len(shift)])
    ref = pd.DataFrame({f"t{i}": draw(name, rng, n) for i in range(trials)})
    cur = pd.DataFrame({f"t{i}": draw(name, rng, n_cur, shift) for i in range(trials)})
    return ref, cur


def upper_95(hits: int, trials: int) -> float:
    from scipy import stats

    return 1.0 if hits == trials else float(stats.beta.ppf(0.975, hits + 1, trials - hits))


def nbmlops_flags(ref: pd.DataFrame, cur: pd.DataFrame, tests: str | None) -> tuple[str, list[bool]]:
    from nbmlops.monitoring import detect_drift

    table = detect_drift(ref, cur, tests, progress=False, plots=False).table
    chosen = "/".join(sorted(set(table["test"].dropna())))
    return chosen, table["drifted"].astype(bool).tolist()


# -- Evidently, in its own virtualenv -------------------------------------------------------------------------------
def save_npz(path: Path, ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    arrays = {}
    for side, frame in (("ref", ref), ("cur", cur)):
        for column in frame.columns:
            values = frame[column]
            categorical = isinstance(values.dtype, pd.CategoricalDtype)
            arrays[f"{side}:{column}"] = values.to_numpy(dtype=str) if categorical else values.to_numpy()
    np.savez(path, **arrays)


def evidently_worker(paths: list[str]) -> None:
    """Runs in bench/.peers/evidently: one JSON line per .npz (per-column verdicts, chosen tests, seconds)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    for path in paths:
        with np.load(path) as npz:
            sides = {
                side: pd.DataFrame({key.split(":", 1)[1]: npz[key] for key in npz.files if key.startswith(side + ":")})
                for side in ("ref", "cur")
            }
        ref, cur = sides["ref"], sides["cur"]
        categorical = [c for c in ref.columns if ref[c].dtype.kind in "OUS"]
        numeric = [c for c in ref.columns if c not in categorical]
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
        )
        seconds = time.perf_counter() - started
        flags, tests, count = {}, set(), None
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config.get("type", "").endswith("ValueDrift"):
                rule, value, threshold = EVIDENTLY_RULE[config["method"]], metric["value"], config["threshold"]
                flags[config["column"]] = bool(
                    value <= threshold if rule == "p<=" else value < threshold if rule == "p<" else value >= threshold
                )
                tests.add(EVIDENTLY_TESTS[config["method"]])
            elif config.get("type", "").endswith("DriftedColumnsCount"):
                count = int(metric["value"]["count"])
        print(
            json.dumps(
                {
                    "path": path,
                    "flags": [flags[c] for c in ref.columns],
                    "tests": sorted(tests),
                    "count": count,
                    "seconds": seconds,
                }
            ),
            flush=True,
        )


def run_evidently(paths: list[Path]) -> dict[str, dict]:
    from bench_drift import PEER_PY, ensure_peer

    if not paths or not ensure_peer():
        return {}
    print(f"Evidently: {len(paths)} frame pairs ...", file=sys.stderr, flush=True)
    done = subprocess.run(
        [str(PEER_PY), __file__, "--evidently-worker", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    if done.returncode != 0:
        print(f"Evidently failed: {done.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
    found = {}
    for line in done.stdout.splitlines():
        item = json.loads(line)
        if item["count"] != sum(item["flags"]):
            raise SystemExit(
                f"{item['path']}: Evidently counted {item['count']} drifted columns, "
                f"its scores give {sum(item['flags'])}"
            )
        found[item["path"]] = item
    return found


# -- driver ---------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--max-trials", type=int, default=1000, help="columns per frame for nbmlops")
    parser.add_argument("--evidently-trials", type=int, default=200, help="the first columns, for Evidently itself")
    parser.add_argument("--evidently-max", type=int, default=10_000, help="largest size Evidently itself runs at")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--evidently-worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evidently_worker:
        evidently_worker(args.evidently_worker)
        return
    from _common import machine, print_table

    print(f"# bench_drift_calibration · {machine()}")
    WORK.mkdir(parents=True, exist_ok=True)
    rows, peer_paths = [], []
    pairs = [(n_ref, n_cur) for n_ref, n_cur in PAIRS if n_ref in args.sizes]
    for name in DISTRIBUTIONS:
        for n_ref, n_cur in pairs:
            trials = columns_for(n_ref, args.max_trials)
            ref, cur = frames(name, n_ref, trials, n_cur=n_cur)
            started = time.perf_counter()
            default = nbmlops_flags(ref, cur, None)
            port = nbmlops_flags(ref, cur, "evidently")
            seconds = time.perf_counter() - started
            peer_trials = min(trials, args.evidently_trials)
            path = WORK / f"{list(DISTRIBUTIONS).index(name)}-{n_ref}-{n_cur}-{peer_trials}.npz"
            if not args.no_evidently and n_ref <= args.evidently_max:
                if not path.exists():
                    save_npz(path, ref.iloc[:, :peer_trials], cur.iloc[:, :peer_trials])
                peer_paths.append(path)
            rows.append(
                {
                    "name": name,
                    "sizes": f"{n_ref:,}" + ("" if n_cur == n_ref else f" / {n_cur:,}"),
                    "trials": trials,
                    "default": default,
                    "port": port,
                    "path": str(path),
                    "peer_trials": peer_trials,
                }
            )
            print(f"  {name}, {n_ref:,} / {n_cur:,} rows: {seconds:.1f} s", file=sys.stderr, flush=True)
    peer = {} if args.no_evidently else run_evidently(peer_paths)

    print("\n## False-positive rate: reference and current drawn from one distribution (nothing drifted)")
    table = []
    for r in rows:
        (d_test, d_flags), (p_test, p_flags) = r["default"], r["port"]
        hits = sum(d_flags)
        real = peer.get(r["path"])
        real_cells = ["not run", ""]
        if real is not None:
            first = p_flags[: r["peer_trials"]]
            agree = sum(a == b for a, b in zip(real["flags"], first, strict=True))
            real_cells = [
                f"{sum(real['flags']) / r['peer_trials']:.3f} ({sum(first) / r['peer_trials']:.3f})",
                f"{agree}/{r['peer_trials']}",
            ]
        table.append(
            [
                r["name"],
                r["sizes"],
                str(r["trials"]),
                d_test,
                f"{hits / r['trials']:.3f}",
                f"{upper_95(hits, r['trials']):.3f}",
                p_test.replace("evidently:", ""),
                f"{sum(p_flags) / r['trials']:.3f}",
                *real_cells,
            ]
        )
    print_table(
        [
            "distribution",
            "rows (ref / cur)",
            "trials",
            "nbmlops test",
            "nbmlops FPR",
            "95% upper",
            "Evidently rule (port)",
            "port FPR",
            "Evidently 0.7 FPR (port, same columns)",
            "port = Evidently",
        ],
        table,
    )

    print("\n## Power: known shifts, 1,000 and 100,000 rows per side, 100 trials each")
    shifts = [
        ("numeric, normal", "mean shift", "mean +0.25 sd"),
        ("numeric, Poisson(3)", "mean shift", "Poisson 3 -> 3.3"),
        ("5 categories, equal", "proportions", "0.1 of the rows move from one category to another"),
        ("5 categories, equal", "new category", "a new category takes 5% of the rows"),
    ]
    table = []
    for name, shift, what in shifts:
        for n in (1000, 100_000):
            trials = 100 if n <= 1000 else 20
            ref, cur = frames(name, n, trials, shift)
            (d_test, d_flags), (p_test, p_flags) = nbmlops_flags(ref, cur, None), nbmlops_flags(ref, cur, "evidently")
            table.append(
                [
                    name,
                    what,
                    f"{n:,}",
                    str(trials),
                    d_test,
                    f"{sum(d_flags) / trials:.2f}",
                    p_test.replace("evidently:", ""),
                    f"{sum(p_flags) / trials:.2f}",
                ]
            )
    print_table(
        [
            "distribution",
            "shift",
            "rows per side",
            "trials",
            "nbmlops test",
            "nbmlops power",
            "Evidently rule",
            "Evidently power",
        ],
        table,
    )


if __name__ == "__main__":
    main()
