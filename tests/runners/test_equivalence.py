"""The measure of correctness: every step sees the values a top-to-bottom run of the notebook gives it.

Each notebook below is run twice: all its code cells top-to-bottom with `exec` in one namespace (what a
kernel does), and as a pipeline with `run_pipeline` (each step in a fresh namespace with only its setup and
its inputs). The printed output of the two runs must be identical. Steps are contiguous in every notebook,
so the concatenated step logs in step order follow the notebook order.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from nbmlops.notebook.ipython_syntax import to_python
from nbmlops.pipeline.compiler import compile_notebook
from nbmlops.runners import run_pipeline
from nbmlops.runners.execution import fresh_namespace

# pandas 3 deprecates `inplace=`; notebooks still use it, and the analysis must treat it as a mutation
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")


def step(name: str, source: str) -> tuple[str, list[str]]:
    return (source, [f"step:{name}"])


def top_to_bottom(cells: list) -> str:
    namespace = fresh_namespace()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in cells:
            if isinstance(cell, tuple) and cell[0] == "md":
                continue
            source = cell if isinstance(cell, str) else cell[0]
            tags = [] if isinstance(cell, str) else cell[1]
            if "skip" in tags:
                continue
            exec(compile(to_python(source), "<cell>", "exec"), namespace)  # noqa: S102
    return out.getvalue()


def pipeline_output(path: Path, home: Path, params: list[str] | None = None) -> str:
    spec = compile_notebook(path)
    result = run_pipeline(spec, params or [], home=home)
    return "".join((result.run_dir / "steps" / s.name / "stdout.txt").read_text() for s in spec.steps)


def assert_equivalent(make_notebook, home: Path, cells: list) -> None:
    expected = top_to_bottom(cells)
    assert expected.strip(), "the notebook must print something to compare"
    assert pipeline_output(make_notebook(cells), home) == expected


NOTEBOOKS = {
    "mutation_in_place": [
        step("load", "items = [3, 1, 2]\nconfig = {'scale': 1}\nmatrix = [[0, 0], [0, 0]]\nprint('load', items)"),
        step(
            "mutate",
            "items.append(5)\nitems.sort()\nconfig['scale'] = 10\nconfig['extra'] = True\n"
            "matrix[1][0] = 7\nprint('mutate', items, config)",
        ),
        step(
            "more",
            "items.extend([9, 9])\nitems.remove(9)\nconfig['scale'] += 1\ndel config['extra']\n"
            "counts = {}\nfor v in items:\n    counts[v] = counts.get(v, 0) + 1\nprint('more', counts)",
        ),
        step("report", "print('report', items, config, matrix, counts)"),
    ],
    "mutation_through_aliases": [
        step(
            "load",
            "rows = [[1], [2]]\ngroups = {'a': [1], 'b': []}\nlabels = [[], []]\ncfg = {'model': {'lr': 1}}\n"
            "print('load', rows, groups, labels, cfg)",
        ),
        step(
            "loop",
            "for row in rows:\n    row.append(0)\nfor i, row in enumerate(rows):\n    row += [i]\n"
            "for key, members in groups.items():\n    members.append(key)\n"
            "for row, label in zip(rows, labels):\n    label.append(len(row))\nprint('loop')",
        ),
        step(
            "parts",
            "params = cfg['model']\nparams['lr'] = 0.5\nfirst = rows[0]\nfirst.append('x')\n"
            "snapshot = rows.copy()\nsnapshot.append(['not in rows'])\nprint('parts', len(snapshot))",
        ),
        step("report", "print('report', rows, groups, labels, cfg)"),
    ],
    "functions_and_globals": [
        step(
            "helpers",
            "counter = 0\n"
            "def total(values):\n    return sum(values) * factor\n"
            "def bump(by=1):\n    global counter\n    counter += by\n    return counter\n"
            "def reset_log():\n    global log\n    log = []\n"
            "def note(msg):\n    log.append(msg)\n"
            "summarize = total\n"
            "print('helpers')",
        ),
        step("data", "factor = 2\nvalues = [1, 2, 3]\nprint('data', total(values))"),
        step("use", "factor = 10\nprint('use', total(values), bump(), bump(5))\nreset_log()\nnote('a')"),
        step("again", "note('b')\nprint('again', counter, bump(), log)"),
        step("end", "factor = -1\nprint('end', counter, log, factor, summarize([1]))"),
    ],
    "class_across_steps": [
        step(
            "define",
            "unit = 'kg'\n"
            "class Meter:\n"
            "    kind = 'meter'\n"
            "    def __init__(self, start):\n        self.total = start\n"
            "    def add(self, amount):\n        self.total += amount * rate\n        return self\n"
            "    def show(self):\n        return f'{self.kind}: {self.total} {unit}'\n"
            "    @staticmethod\n    def describe():\n        return f'meters count in {unit}'\n"
            "print('define', Meter.kind)",
        ),
        step("build", "rate = 3\nm = Meter(1)\nm.add(2)\nprint('build', m.show(), Meter.describe())"),
        step(
            "later",
            "unit = 'lb'\nrate = 100\nother = Meter(0).add(1)\nprint('later', other.show(), "
            "isinstance(other, Meter), Meter.describe())",
        ),
    ],
    "conditional_rebinding": [
        step("start", "threshold = 7\nlabel = 'low'\nmaybe = 'kept'\nvalues = [1, 8, 3]\nprint('start', label)"),
        step(
            "decide",
            "if threshold > 5:\n    label = 'high'\nif threshold > 100:\n    maybe = 'changed'\n"
            "for v in values:\n    if v > threshold:\n        big = v\n"
            "try:\n    parsed = int('x')\nexcept ValueError as err:\n    parsed = -1\n    why = str(err)\n"
            "print('decide', label, maybe, big, parsed)",
        ),
        step("report", "print('report', label, maybe, big, parsed, why)"),
    ],
    "del_and_rebind": [
        step("make", "tmp = [1, 2]\nkeep = {'a': 1, 'b': 2}\nx = 1\nprint('make', tmp, keep)"),
        step("clean", "summary = sum(tmp)\ndel tmp\ndel keep['a']\nx = x + 1\nprint('clean', summary, keep, x)"),
        step("again", "tmp = 'new'\nx += 10\nprint('again', tmp, keep, x)"),
        step("end", "print('end', tmp, x, summary)"),
    ],
    "loops_and_comprehensions": [
        step("data", "rows = [(1, 'a'), (2, 'b'), (3, 'c')]\nx = 'global x'\nk = 2\nprint('data', len(rows))"),
        step(
            "loop",
            "acc = []\nfor i, (n, s) in enumerate(rows):\n    acc.append(s * n)\n"
            "while len(acc) < 5:\n    acc.append('-')\nelse:\n    done = True\n"
            "print('loop', acc, i, n, s, done)",
        ),
        step(
            "comp",
            "doubled = [x * k for x in range(3)]\nby_name = {s: n for n, s in rows if n > 1}\n"
            "flat = [c for word in acc for c in word]\nfound = [y for r in rows if (y := r[0]) > 1]\n"
            "gen = sum(n * k for n, _ in rows)\nprint('comp', doubled, by_name, len(flat), found, y, gen, x)",
        ),
        step("end", "print('end', x, y, i, doubled, flat[:3])"),
    ],
    "lambdas": [
        step("define", "k = 3\nscale = lambda v: v * k\nkey = lambda r: -weights[r]\nprint('define')"),
        step(
            "use",
            "weights = {'a': 1, 'b': 5, 'c': 2}\nprint('use', scale(2), sorted(weights, key=key), "
            "list(map(lambda w: w + k, [1, 2])))",
        ),
        step("rebind", "k = 10\nweights['a'] = 99\nprint('rebind', scale(2), sorted(weights, key=key))"),
    ],
    "pandas_in_place": [
        ("import pandas as pd", ["setup"]),
        step(
            "load", "df = pd.DataFrame({'a': [1, 2, 3, 4], 'b': [1.5, None, 3.5, 4.0], 'c': list('wxyz')})\nprint(df)"
        ),
        step(
            "clean",
            "df['d'] = df['a'] * 2\ndf.fillna({'b': 0.0}, inplace=True)\n"
            "df.drop(columns=['c'], inplace=True)\ndf.loc[df['a'] > 2, 'a'] = 0\nprint(df)",
        ),
        step(
            "more",
            "df.rename(columns={'d': 'double'}, inplace=True)\ndf.sort_values('b', ascending=False, "
            "inplace=True)\nsubset = df[df['double'] > 2].copy()\nprint(df)",
        ),
        step("report", "print(df.dtypes.to_dict())\nprint(subset)\nprint(df['double'].sum(), list(df.columns))"),
    ],
    "model_fit_in_place": [
        ("import numpy as np\nfrom sklearn.linear_model import LinearRegression", ["setup"]),
        step(
            "data",
            "X = np.arange(10, dtype=float).reshape(-1, 1)\ny = 3 * X.ravel() + 1\nmodel = LinearRegression()"
            "\nprint('data', X.shape)",
        ),
        step("train", "model.fit(X, y)\nprint('train', round(float(model.coef_[0]), 6))"),
        step("predict", "print('predict', np.round(model.predict(X[:3]), 6).tolist(), round(model.intercept_, 6))"),
    ],
    "function_changing_its_argument": [
        (
            "import random\nimport heapq\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression",
            ["setup"],
        ),
        step(
            "data",
            "X = np.array([[0.0], [1.0], [2.0], [3.0]])\ny = np.array([0, 0, 1, 1])\n"
            "model = LogisticRegression()\nrows = [[1], [2]]\nprint('data', hasattr(model, 'coef_'))",
        ),
        step(
            "helpers",
            "def train(m, X, y):\n    m.fit(X, y)\n"
            "def add_zero(table):\n    for row in table:\n        row.append(0)\n"
            "def prepare(t, *, zero=add_zero):\n    zero(t)\n    heapq.heapify(t)\nprint('helpers')",
        ),
        step("train", "train(model, X, y)\nprint('train', hasattr(model, 'coef_'))"),
        step(
            "prepare",
            "prepare(t=rows)\nrandom.seed(0)\norder = list(range(5))\nrandom.shuffle(order)\nprint('prepare')",
        ),
        step("report", "print('report', np.round(model.coef_, 4).tolist(), rows, order)"),
    ],
    "parameters_and_setup": [
        ("C = 0.5\nname: str = 'run'", ["parameters"]),
        ("import math\nLIMIT = 3\ndef clip(v):\n    return min(v, LIMIT)", ["setup"]),
        step("first", "values = [clip(v * C) for v in range(10)]\nprint('first', name, values)"),
        ("print('exploration only')", ["skip"]),
        step("second", "LIMIT = 1\nprint('second', [clip(v) for v in values], round(math.pi * C, 4))"),
    ],
}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_pipeline_matches_top_to_bottom_run(name: str, make_notebook, home: Path) -> None:
    cells = NOTEBOOKS[name]
    if name == "parameters_and_setup":
        # a skip cell runs top-to-bottom in a notebook but is left out of the pipeline; compare without it
        cells = [c for c in cells if "skip" not in c[1]]
    assert_equivalent(make_notebook, home, cells)


def test_untagged_notebook_is_one_step_and_matches(make_notebook, home: Path) -> None:
    cells = ["a = [1]", "a.append(2)\ndef f():\n    return len(a)", ("md", "# notes"), "print(f(), a)"]
    assert_equivalent(make_notebook, home, cells)
    assert [s.name for s in compile_notebook(make_notebook(cells)).steps] == ["notebook"]


def test_parameter_override_reaches_every_step(make_notebook, home: Path) -> None:
    cells = [("C = 0.5", ["parameters"]), step("a", "x = C * 2\nprint(x)"), step("b", "print(x, C)")]
    assert pipeline_output(make_notebook(cells), home, ["C=2.0"]) == "4.0\n4.0 2.0\n"


def test_user_method_mutating_self_is_a_new_version(make_notebook, home: Path) -> None:
    cells = [
        step(
            "define",
            "class Stack:\n    def __init__(self):\n        self.items = []\n"
            "    def push(self, v):\n        self.items.append(v)",
        ),
        step("build", "s = Stack()\nprint('build', s.items)"),
        step("use", "s.push(1)\nprint('use', s.items)"),
        step("end", "print('end', s.items)"),
    ]
    assert_equivalent(make_notebook, home, cells)


def test_method_of_instance_from_another_step_sees_callers_globals(make_notebook, home: Path) -> None:
    cells = [
        step(
            "define",
            "unit = 'kg'\nclass Meter:\n    def __init__(self, v):\n        self.v = v\n"
            "    def show(self):\n        return f'{self.v} {unit}'\nprint('define')",
        ),
        step("build", "m = Meter(7)\nprint('build', m.show())"),
        step("later", "unit = 'lb'\nprint('later', Meter(1).show(), m.show())"),
    ]
    assert_equivalent(make_notebook, home, cells)


@pytest.mark.xfail(
    strict=True,
    reason="an alias bound in one step and changed in place in a later one: each step "
    "receives its inputs as separate copies, so `rows` from step 'bind' never "
    "sees the change made through `first` in step 'change'",
)
def test_alias_bound_in_one_step_changed_in_another(make_notebook, home: Path) -> None:
    cells = [
        step("load", "rows = [[1], [2]]\nprint('load', rows)"),
        step("bind", "first = rows[0]\nprint('bind', first)"),
        step("change", "first.append(0)\nprint('change', first)"),
        step("report", "print('report', rows)"),
    ]
    assert_equivalent(make_notebook, home, cells)
