"""Real public notebooks, run the way a new user would try nbmlops on them.

Each notebook in `notebooks/` (sources and licences: SOURCES.md) is run

- twice top to bottom with papermill on a real kernel: the references. A probe in those kernels
  (corpus_fingerprint.probe, installed by an IPython startup file, so the notebook runs unchanged) fingerprints,
  after the cells where a step ends, the variables that step hands on. The two kernels get different hash
  seeds; a value (or part of one) whose fingerprints differ between them is nondeterministic and not compared.
- through nbmlops, in four cases: the notebook as is (untagged: one step; a Kale notebook keeps its own steps)
  and split (a new `step:sN` every three code cells, leading import/config cells left as setup), each on the
  local and the papermill backend. Every case runs in a process of its own (driver.py) and must succeed, warn
  about nothing, and hand on values equal to the references' at the same cell boundary.

Every run works on a copy of the notebook's folder in a temporary directory (the notebooks write files), and no
notebook touches the network. Cases that fail today because of known nbmlops bugs are listed in
KNOWN_FAILURES as strict xfails: fix the bug, delete the line.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # corpus_fingerprint, also loaded by path into the reference kernels

from corpus_fingerprint import WHOLE  # noqa: E402

NOTEBOOKS = HERE / "notebooks"
DRIVER = HERE / "driver.py"
PROBE_MODULE = HERE / "corpus_fingerprint.py"
REFERENCE_TIMEOUT = 180  # seconds for one top-to-bottom papermill run
CASE_TIMEOUT = 300  # seconds for one nbmlops run (a split notebook on papermill runs many step notebooks)
PARALLEL = 2  # processes at once: the references of a notebook, then its cases

pytestmark = [pytest.mark.corpus, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@dataclass(frozen=True)
class Notebook:
    id: str
    path: str  # under notebooks/
    root: str  # the folder copied for every run: the notebook and the files it reads (under notebooks/)
    shapes: str  # what it exercises, for whoever reads a failure


CORPUS = [
    Notebook(
        "ipython-plotting",
        "ipython/IPython Kernel/Plotting in the Notebook.ipynb",
        "ipython",
        "%matplotlib inline, then %matplotlib notebook; pyplot state across cells",
    ),
    Notebook(
        "ipython-trapezoid",
        "ipython/IPython Kernel/Trapezoid Rule.ipynb",
        "ipython",
        "%matplotlib inline, numpy, scipy.integrate.quad, a notebook function used in later cells",
    ),
    Notebook(
        "ipython-capturing-output",
        "ipython/IPython Kernel/Capturing Output.ipynb",
        "ipython",
        "%%capture with and without a variable, --no-stderr, CapturedIO objects, plots inside %%capture",
    ),
    Notebook(
        "ipython-cell-magics",
        "ipython/IPython Kernel/Cell Magics.ipynb",
        "ipython",
        "%lsmagic, %timeit, %%timeit, %%capture, %%writefile + %run, %%script, %%bash --out/--err",
    ),
    Notebook(
        "ipython-rich-output",
        "ipython/IPython Kernel/Rich Output.ipynb",
        "ipython",
        "display(), Image/SVG from files, HTML, Javascript, %%html, %%javascript, %%latex, Math, Latex, "
        "YouTubeVideo, IFrame, FileLink(s), a video read from a file",
    ),
    Notebook(
        "ipython-custom-display",
        "ipython/IPython Kernel/Custom Display Logic.ipynb",
        "ipython",
        "classes with _repr_png_/_repr_latex_/_ipython_display_, display formatters registered at runtime, "
        "help(), a class redefined later, uuid4 and unseeded numpy randomness",
    ),
    Notebook(
        "ipython-importing-notebooks",
        "ipython/IPython Kernel/Importing Notebooks.ipynb",
        "ipython",
        "an import hook on sys.meta_path that imports other notebooks, automagic `ls`, pygments HTML display",
    ),
    Notebook(
        "nbclient-clear-output",
        "nbclient/Clear Output.ipynb",
        "nbclient",
        "clear_output (wait or not), display(..., display_id=...) handles and handle.update",
    ),
    Notebook(
        "nbsphinx-code-cells",
        "nbsphinx/code-cells.ipynb",
        "nbsphinx",
        "empty cells, last-expression outputs, stderr, rich displays, %config InlineBackend, a figure shown "
        "again later, a pandas DataFrame, ipywidgets and their links, ANSI colours",
    ),
    Notebook(
        "kale-parameters-metrics",
        "kale/pipeline_parameters_and_metrics.ipynb",
        "kale",
        "Kale tags: imports, pipeline-parameters, step:/prev:, pipeline-metrics, limit:/cache: options",
    ),
    Notebook(
        "papermill-simple-execute",
        "papermill/simple_execute.ipynb",
        "papermill",
        "a papermill parameters cell (msg = None) and a cell that prints it",
    ),
    Notebook(
        "jupytext-nteract-parameter",
        "jupytext/nteract_with_parameter.ipynb",
        "jupytext",
        "a parameters cell, a pandas DataFrame with a named index, %matplotlib inline + DataFrame.plot",
    ),
    Notebook(
        "jupytext-outputs-images",
        "jupytext/text_outputs_and_images.ipynb",
        "jupytext",
        "print/sys.stdout.write/stderr, logging, displayed DataFrames, an ndarray changed in place by slices "
        "between two imshow plots",
    ),
    Notebook(
        "jupyter-book-notebooks",
        "jupyter-book/notebooks.ipynb",
        "jupyter-book",
        "plt.ion(), seeded numpy randomness, rcParams changed, matplotlib figures/lines kept in variables",
    ),
    Notebook(
        "nbval-index",
        "nbval/index.ipynb",
        "nbval",
        "%%writefile, unseeded randomness and clock reads, %matplotlib inline after the import, imshow, "
        "a function defined and never called",
    ),
    Notebook(
        "sklearn-gpr-structured-data",
        "scikit-learn/plot_gpr_on_structured_data.ipynb",
        "scikit-learn",
        "a notebook-defined Kernel class inside GaussianProcessRegressor/Classifier and SVC, clone()",
    ),
    Notebook(
        "sklearn-pipeline-display",
        "scikit-learn/plot_pipeline_display.ipynb",
        "scikit-learn",
        "sklearn.set_config(display=...), HTML reprs of Pipelines and ColumnTransformers",
    ),
    Notebook(
        "sklearn-target-encoder",
        "scikit-learn/plot_target_encoder_cross_val.ipynb",
        "scikit-learn",
        "a RandomState used across cells, DataFrames, set_config(transform_output='pandas'), one Ridge "
        "refitted under two names, pandas plotting",
    ),
    Notebook(
        "sklearn-feature-selection",
        "scikit-learn/plot_feature_selection_pipeline.ipynb",
        "scikit-learn",
        "make_classification, a fitted Pipeline used and sliced in later cells, classification_report",
    ),
]
VARIANTS = ("as-is", "split")
BACKENDS = ("local", "papermill")
SPLIT_EVERY = 3  # code cells per step in the split variant

# Known nbmlops failures: (notebook id, variant, backend) -> the class of failure. Strict: a case listed here that
# passes fails the suite, so delete its line once the bug is fixed.
KERNEL_OBJECTS = "kernel objects (get_ipython(), its formatters) bound in one step can't reach a later one"
WIDGET_PICKLE = "an ipywidgets widget handed to a later step can't be saved on papermill (_thread.lock)"
CLASS_GLOBALS = "names a notebook class's methods read (an import) are not inputs of the step that uses the class"
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {
    ("ipython-custom-display", "split", "local"): KERNEL_OBJECTS,
    ("ipython-custom-display", "split", "papermill"): KERNEL_OBJECTS,
    ("nbsphinx-code-cells", "split", "papermill"): WIDGET_PICKLE,
    ("sklearn-gpr-structured-data", "split", "local"): CLASS_GLOBALS,
    ("sklearn-gpr-structured-data", "split", "papermill"): CLASS_GLOBALS,
}
# Failures that depend on chance (which warm kernel runs a step): not strict, or the suite would be flaky.
FLAKY_FAILURES: dict[tuple[str, str, str], str] = {
    ("ipython-importing-notebooks", "split", "papermill"): (
        "an import hook a step installs (sys.meta_path) reaches a later step only when the same warm kernel runs it"
    ),
    ("sklearn-target-encoder", "split", "papermill"): (
        "library state set in a step (sklearn.set_config(transform_output='pandas')) reaches a later step only "
        "when the same warm kernel runs it"
    ),
}


# -- the variants -------------------------------------------------------------------------------------------------
STEP_TAG = re.compile(r"^\s*(step|block|after|prev)\s*:", re.IGNORECASE)
ROLE_TAGS = {"parameters", "pipeline-parameters", "injected-parameters", "setup", "imports", "functions", "skip"}
CONFIG_MAGIC = re.compile(r"^\s*%(matplotlib|config|load_ext)\b")


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_setup_like(source: str) -> bool:
    """Imports and kernel configuration (%matplotlib, %config, %load_ext) only: fine to re-run before every step."""
    code = "\n".join(line for line in source.splitlines() if not CONFIG_MAGIC.match(line))
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return all(isinstance(node, ast.Import | ast.ImportFrom) for node in body)


def split_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy whose code cells start a new step every SPLIT_EVERY cells (their own step tags replaced); leading
    setup-like cells stay untagged, so the grammar makes them setup; role-tagged cells keep their role."""
    nb = json.loads(json.dumps(nb))
    counted = 0
    started = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = [t for t in (cell.get("metadata") or {}).get("tags", []) if not STEP_TAG.match(t)]
        cell.setdefault("metadata", {})["tags"] = tags
        source = cell_source(cell)
        if not source.strip() or ROLE_TAGS.intersection(t.strip().lower() for t in tags):
            continue
        if not started and is_setup_like(source):
            continue
        started = True
        if counted % SPLIT_EVERY == 0:
            tags.append(f"step:s{counted // SPLIT_EVERY + 1}")
        counted += 1
    return nb


def variant_notebook(nb: dict[str, Any], variant: str) -> dict[str, Any]:
    return nb if variant == "as-is" else split_notebook(nb)


def executed_cells(nb: dict[str, Any]) -> list[tuple[int, str]]:
    """The cells a kernel runs, in order, as nbclient sends them (it skips empty ones and skip-execution)."""
    return [
        (i, cell_source(c))
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        and cell_source(c).strip()
        and "skip-execution" not in (c.get("metadata") or {}).get("tags", [])
    ]


def handed_on(nb: dict[str, Any], folder: Path) -> dict[int, set[str]]:
    """For every variant: cell index where a step ends -> the names that step hands on (what the references
    must fingerprint there). A variant that doesn't compile adds nothing; its case reports the error."""
    from nbmlops.errors import NbmlopsError
    from nbmlops.pipeline import compile_notebook

    wanted: dict[int, set[str]] = {}
    for variant in VARIANTS:
        path = folder / f"wanted-{variant}.ipynb"
        path.write_text(json.dumps(variant_notebook(nb, variant)))
        try:
            spec = compile_notebook(path)
        except NbmlopsError:
            continue
        for step in spec.steps:
            wanted.setdefault(step.cells[-1].index, set()).update(step.outputs)
    return wanted


# -- processes ----------------------------------------------------------------------------------------------------
def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IPYTHONDIR", "PYTHONHASHSEED", "MPLBACKEND")}
    env.update(extra)
    return env


def run_process(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run a command in its own process group (papermill starts kernels); on timeout kill the group.
    Returns (exit code or None on timeout, the last lines of its output)."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return None, tail(output)
    return process.returncode, tail(output)


def tail(text: str, lines: int = 25) -> str:
    kept = [line for line in (text or "").splitlines() if line.strip() and "Kernel is running over TCP" not in line]
    return "\n".join(kept[-lines:])


def copy_root(entry: Notebook, target: Path) -> Path:
    """A fresh copy of the notebook's folder; returns the notebook's path in it."""
    shutil.copytree(NOTEBOOKS / entry.root, target / entry.root)
    return target / entry.path


STARTUP = textwrap.dedent("""\
    def _nbmlops_corpus_probe():
        import importlib.util, os
        spec = importlib.util.spec_from_file_location("_nbmlops_corpus_fingerprint",
                                                      os.environ["NBMLOPS_CORPUS_FINGERPRINT"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.probe(get_ipython(), os.environ["NBMLOPS_CORPUS_PLAN"])
    _nbmlops_corpus_probe()
    del _nbmlops_corpus_probe
    """)


@dataclass
class References:
    values: list[dict[int, dict[str, Any]]]  # per reference run: cell -> name -> fingerprint record
    error: str | None = None  # why a reference run failed: the notebook doesn't run here as published


def reference_run(entry: Notebook, folder: Path, seed: int, plan: dict[str, Any]) -> tuple[dict | None, str]:
    notebook = copy_root(entry, folder)
    ipython_dir = folder / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-nbmlops-corpus-probe.py").write_text(STARTUP)
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps({**plan, "out": str(folder / "values.jsonl")}))
    env = clean_env(
        IPYTHONDIR=str(ipython_dir),
        PYTHONHASHSEED=str(seed),
        NBMLOPS_CORPUS_PLAN=str(plan_path),
        NBMLOPS_CORPUS_FINGERPRINT=str(PROBE_MODULE),
    )
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(folder / "executed.ipynb"),
        "--cwd",
        str(notebook.parent),
        "-k",
        "python3",
        "--no-progress-bar",
        "--log-level",
        "ERROR",
    ]
    code, output = run_process(command, folder, env, REFERENCE_TIMEOUT)
    if code != 0:
        why = "timed out" if code is None else f"exited {code}"
        return None, f"the top-to-bottom papermill run (hash seed {seed}) {why}:\n{output}"
    values: dict[int, dict[str, Any]] = {}
    unmatched: list[str] = []
    installed = False
    jsonl = folder / "values.jsonl"
    for line in jsonl.read_text().splitlines() if jsonl.exists() else []:
        record = json.loads(line)
        installed = installed or record.get("installed", False)
        if "cell" in record:
            values[record["cell"]] = record["values"]
        elif "unmatched" in record:
            unmatched.append(f"    waiting for cell {record['expected_cell']}, the kernel ran {record['unmatched']!r}")
    if not installed:
        return None, f"the probe was not installed in the kernel (hash seed {seed}): harness bug\n{output}"
    missing = sorted(set(map(int, plan["wanted"])) - set(values))
    if missing:
        return None, (
            f"the probe recorded nothing after cells {missing} (hash seed {seed}): harness bug\n" + "\n".join(unmatched)
        )
    return values, ""


def case_run(entry: Notebook, variant: str, backend: str, folder: Path, cache_dir: Path) -> dict[str, Any]:
    notebook = copy_root(entry, folder)
    nb = json.loads(notebook.read_text())
    notebook.write_text(json.dumps(variant_notebook(nb, variant), indent=1))
    home = folder / ".nbmlops"
    result_path = folder / "result.json"
    env = clean_env(NBMLOPS_HOME=str(home), NBMLOPS_CACHE_DIR=str(cache_dir))
    began = time.perf_counter()
    code, output = run_process(
        [sys.executable, str(DRIVER), str(notebook), backend, str(home), str(result_path)],
        notebook.parent,
        env,
        CASE_TIMEOUT,
    )
    seconds = time.perf_counter() - began
    if code != 0 or not result_path.exists():
        why = "timed out" if code is None else f"exited {code}"
        return {"driver_error": f"the nbmlops run process {why}:\n{output}", "seconds": seconds}
    return {**json.loads(result_path.read_text()), "seconds": seconds}


# -- the session's runs ---------------------------------------------------------------------------------------------
class CorpusRuns:
    """The reference runs and case runs of the cases this session selected, each made once, PARALLEL at a time
    in notebook order: one queue for the whole session keeps both cores busy while the tests wait in turn."""

    def __init__(self, workspace: Path, selected: set[tuple[str, str, str]]) -> None:
        self.pool = ThreadPoolExecutor(PARALLEL)
        self.references: dict[str, list[Future[tuple[dict | None, str]]]] = {}
        self.cases: dict[tuple[str, str, str], Future[dict[str, Any]]] = {}
        for entry in CORPUS:
            cases = [(v, b) for v in VARIANTS for b in BACKENDS if (entry.id, v, b) in selected]
            if not cases:
                continue
            folder = workspace / entry.id
            folder.mkdir()
            nb = json.loads((NOTEBOOKS / entry.path).read_text())
            wanted = handed_on(nb, folder)
            plan = {"cells": executed_cells(nb), "wanted": {str(k): sorted(v) for k, v in wanted.items() if v}}
            self.references[entry.id] = [
                self.pool.submit(reference_run, entry, folder / f"reference-{seed}", seed, plan) for seed in (1, 2)
            ]
            for variant, backend in cases:
                self.cases[(entry.id, variant, backend)] = self.pool.submit(
                    case_run, entry, variant, backend, folder / f"{variant}-{backend}", workspace / "cache"
                )

    def get(self, entry: Notebook, variant: str, backend: str) -> tuple[References, dict[str, Any]]:
        runs = [future.result() for future in self.references[entry.id]]
        errors = [error for values, error in runs if values is None]
        references = References([values for values, _ in runs if values is not None], errors[0] if errors else None)
        return references, self.cases[(entry.id, variant, backend)].result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def corpus_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRuns]:
    selected = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if getattr(item, "originalname", None) == "test_corpus_notebook" and spec is not None:
            selected.add((spec.params["entry"].id, spec.params["variant"], spec.params["backend"]))
    runs = CorpusRuns(tmp_path_factory.mktemp("corpus"), selected)
    yield runs
    runs.close()


# -- comparing ------------------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    problems: list[str]
    compared: int = 0  # values with at least one part equal in both references
    not_compared: list[str] | None = None  # values nondeterministic or too big, with why


def compare_value(
    name: str, step: str, cell: int, refs: list[dict[str, Any]], got: dict[str, Any], comparison: Comparison
) -> None:
    where = f"step '{step}' hands on '{name}' (after cell {cell})"
    if "unloadable" in got:
        comparison.problems.append(f"{where}: its saved {got.get('format')} file doesn't load: {got['unloadable']}")
        return
    if all(r.get("missing") for r in refs):
        comparison.problems.append(f"{where}, but a top-to-bottom run has no '{name}' after that cell")
        return
    unusable = [r.get("uncomparable") or ("missing" if r.get("missing") else None) for r in refs] + [
        got.get("uncomparable")
    ]
    if any(unusable):
        comparison.not_compared.append(f"{step}.{name}: {next(u for u in unusable if u)}")
        return
    first, second = refs[0]["parts"], refs[1]["parts"]
    agreed = {part: first[part] for part in first if part in second and second[part][0] == first[part][0]}
    if not agreed:
        comparison.not_compared.append(f"{step}.{name}: differs between the two top-to-bottom runs")
        return
    comparison.compared += 1
    parts = got["parts"]
    differing = [part for part in agreed if parts.get(part, [None])[0] != agreed[part][0]]
    if not differing:
        return
    # the most specific parts first: they say what differs; the whole value says that it does
    differing.sort(key=lambda part: (part == WHOLE, -part.count("[") - part.count(".")))
    details = [
        f"    {part}: top-to-bottom {agreed[part][1]!r}, pipeline "
        f"{parts[part][1] if part in parts else 'has no such part'!r}"
        for part in differing[:4]
    ]
    more = f"\n    ... and {len(differing) - 4} more parts" if len(differing) > 4 else ""
    comparison.problems.append(f"{where}: differs from the top-to-bottom run\n" + "\n".join(details) + more)


def indent(text: str | None) -> str:
    return textwrap.indent(text or "(no message)", "    ")


def compare_case(references: References, result: dict[str, Any]) -> Comparison:
    comparison = Comparison([], not_compared=[])
    if "driver_error" in result:
        comparison.problems.append(result["driver_error"])
        return comparison
    if not result["compiled"]:
        comparison.problems.append(result["error"])
        return comparison
    comparison.problems += [f"compile warning: {w}" for w in result["warnings"]]
    if result["run_status"] != "succeeded":
        failed = [s for s in result["steps"] if s["status"] == "failed"]
        comparison.problems += [
            f"step '{s['name']}' (cells {s['cells']}) failed:\n{indent(s['error'])}" for s in failed
        ]
        if not failed:
            comparison.problems.append(f"the run {result['run_status']}:\n{indent(result['error'])}")
    for step in result["steps"]:
        if step["status"] != "succeeded":
            continue
        for name in step["outputs_expected"]:
            got = step["outputs"].get(name)
            if got is None:
                comparison.problems.append(f"step '{step['name']}' succeeded without saving '{name}'")
                continue
            refs = [values.get(step["last_cell"], {}).get(name, {"missing": True}) for values in references.values]
            compare_value(name, step["name"], step["last_cell"], refs, got, comparison)
    return comparison


def case_params() -> list[Any]:
    params = []
    for entry in CORPUS:
        for variant in VARIANTS:
            for backend in BACKENDS:
                case = (entry.id, variant, backend)
                marks = []
                if case in KNOWN_FAILURES:
                    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[case])]
                elif case in FLAKY_FAILURES:
                    marks = [pytest.mark.xfail(strict=False, reason=FLAKY_FAILURES[case])]
                params.append(pytest.param(entry, variant, backend, marks=marks, id=f"{entry.id}-{variant}-{backend}"))
    return params


def test_known_failures_name_real_cases() -> None:
    cases = {(e.id, v, b) for e in CORPUS for v in VARIANTS for b in BACKENDS}
    listed = set(KNOWN_FAILURES) | set(FLAKY_FAILURES)
    assert listed <= cases, f"the failure tables name no such case: {listed - cases}"
    assert not set(KNOWN_FAILURES) & set(FLAKY_FAILURES), "a case is both a known and a flaky failure"


def test_shipped_files_are_as_published() -> None:
    """SHA256SUMS holds the files as taken from their releases: a linter or formatter run over the repository
    (`ruff check --fix` sorts the notebooks' imports) must not change what the corpus runs."""
    import hashlib

    listed = {}
    for line in (HERE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    shipped = {
        str(p.relative_to(NOTEBOOKS))
        for p in NOTEBOOKS.rglob("*")
        if p.is_file() and p.name != "ruff.toml" and ".ruff_cache" not in p.parts
    }
    assert shipped == set(listed), f"not in SHA256SUMS: {shipped - set(listed)}; missing: {set(listed) - shipped}"
    changed = [
        name for name, digest in listed.items() if hashlib.sha256((NOTEBOOKS / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"changed since taken from their releases (put back the published cells): {changed}"


def test_every_notebook_is_shipped_with_its_source_recorded() -> None:
    sources = (HERE / "SOURCES.md").read_text()
    for entry in CORPUS:
        assert (NOTEBOOKS / entry.path).is_file(), entry.path
        assert f"`{entry.path}`" in sources, f"{entry.path} has no entry in SOURCES.md"
    assert len(CORPUS) >= 15


@pytest.mark.parametrize(("entry", "variant", "backend"), case_params())
def test_corpus_notebook(entry: Notebook, variant: str, backend: str, corpus_runs: CorpusRuns) -> None:
    references, result = corpus_runs.get(entry, variant, backend)
    if references.error:  # the notebook itself doesn't run here: a corpus problem, not an nbmlops one
        pytest.fail(f"{entry.path}: {references.error}", pytrace=False)
    comparison = compare_case(references, result)
    print(
        f"{entry.id} {variant} {backend}: {result.get('seconds', 0):.1f}s, steps "
        f"{len(result.get('steps', []))}, values compared {comparison.compared}, not compared "
        f"{len(comparison.not_compared)} {comparison.not_compared}"
    )
    if comparison.problems:
        header = f"{entry.path} [{variant}, {backend}] ({entry.shapes}):"
        pytest.fail(header + "\n" + "\n".join(f"- {p}" for p in comparison.problems), pytrace=False)
