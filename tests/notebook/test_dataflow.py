"""Dataflow analysis: which names each step reads from which earlier step, scopes respected.

Most cases compile a small notebook of contiguous steps and check every step's inputs ({variable: producer});
the outputs of a step are then exactly the variables later steps take from it. A few cases look at the
ordered events of one cell directly.
"""

from __future__ import annotations

import ast

import pytest

from nbmlops.errors import NotebookError
from nbmlops.notebook.dataflow import Call, Delete, Mutate, Read, StarImport, Write, cell_events
from nbmlops.notebook.ipython_syntax import to_python
from nbmlops.pipeline.compiler import compile_notebook


def cells_of(steps: list[tuple[str, str]]) -> list:
    """[(step, source)] -> notebook cells; the step `setup` makes a setup cell instead."""
    return [(src, ["setup"]) if name == "setup" else (src, [f"step:{name}"]) for name, src in steps]


def compile_steps(make_notebook, steps: list[tuple[str, str]]):
    return compile_notebook(make_notebook(cells_of(steps)))


def io_of(spec) -> dict[str, dict[str, str]]:
    return {s.name: dict(s.inputs) for s in spec.steps}


# (id, [(step, source)], {step: {variable: producer}} for every step)
CASES = [
    # --- plain flow ---
    ("simple_read", [("a", "x = 1"), ("b", "print(x)")], {"a": {}, "b": {"x": "a"}}),
    (
        "latest_definition_wins",
        [("a", "x = 1"), ("b", "x = 2"), ("c", "print(x)")],
        {"a": {}, "b": {}, "c": {"x": "b"}},
    ),
    ("own_definition_is_not_an_input", [("a", "x = 1"), ("b", "x = 5\nprint(x)")], {"a": {}, "b": {}}),
    (
        "read_before_local_rebind",
        [("a", "x = 1"), ("b", "y = x\nx = 2"), ("c", "print(x, y)")],
        {"a": {}, "b": {"x": "a"}, "c": {"x": "b", "y": "b"}},
    ),
    (
        "builtins_are_not_inputs",
        [("a", "xs = [1]"), ("b", "print(len(xs), sorted(xs), range(2))")],
        {"a": {}, "b": {"xs": "a"}},
    ),
    (
        "tuple_and_star_unpack",
        [("a", "xs = [1, 2, 3]"), ("b", "h, *t = xs\n(p, q), r = (1, 2), 3"), ("c", "print(h, t, p, q, r)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"h": "b", "t": "b", "p": "b", "q": "b", "r": "b"}},
    ),
    ("annotated_assignment", [("a", "x: int = 5"), ("b", "print(x)")], {"a": {}, "b": {"x": "a"}}),
    ("chained_assignment", [("a", "x = y = 0"), ("b", "print(x + y)")], {"a": {}, "b": {"x": "a", "y": "a"}}),
    # --- functions ---
    (
        "function_free_name_read_when_called",
        [("a", "x = 1"), ("b", "def f():\n    return x"), ("c", "f()")],
        {"a": {}, "b": {}, "c": {"f": "b", "x": "a"}},
    ),
    (
        "function_not_called_needs_nothing",
        [("a", "x = 1"), ("b", "def f():\n    return x\nprint('ok')")],
        {"a": {}, "b": {}},
    ),
    (
        "function_parameter_shadows_global",
        [("a", "x = 1"), ("b", "def f(x):\n    return x"), ("c", "f(2)")],
        {"a": {}, "b": {}, "c": {"f": "b"}},
    ),
    (
        "function_local_shadows_global",
        [("a", "x = 1"), ("b", "def f():\n    x = 3\n    return x"), ("c", "f()")],
        {"a": {}, "b": {}, "c": {"f": "b"}},
    ),
    (
        "function_default_read_at_def_time",
        [("a", "k = 1"), ("b", "def f(v=k):\n    return v"), ("c", "f()")],
        {"a": {}, "b": {"k": "a"}, "c": {"f": "b"}},
    ),
    (
        "decorator_read_at_def_time",
        [("a", "import functools\ndeco = functools.lru_cache"), ("b", "@deco\ndef f():\n    return 1")],
        {"a": {}, "b": {"deco": "a"}},
    ),
    (
        "function_reads_global_of_callers_step",
        [("a", "def f():\n    return x"), ("b", "x = 2\nprint(f())")],
        {"a": {}, "b": {"f": "a"}},
    ),
    (
        "function_calling_function",
        [("a", "def f():\n    return g()"), ("b", "def g():\n    return y"), ("c", "y = 1\nprint(f())")],
        {"a": {}, "b": {}, "c": {"f": "a", "g": "b"}},
    ),
    (
        "nested_function_free_name",
        [("a", "x = 1"), ("b", "def f():\n    def g():\n        return x\n    return g()"), ("c", "f()")],
        {"a": {}, "b": {}, "c": {"f": "b", "x": "a"}},
    ),
    (
        "nonlocal_stays_inside",
        [
            ("a", "x = 1"),
            ("b", "def f():\n    x = 0\n    def g():\n        nonlocal x\n        x += 1\n    g()\n    return x"),
            ("c", "f()"),
        ],
        {"a": {}, "b": {}, "c": {"f": "b"}},
    ),
    (
        "setup_function_reads_step_value",
        [("setup", "def f():\n    return x"), ("a", "x = 1"), ("b", "f()")],
        {"a": {}, "b": {"x": "a"}},
    ),
    (
        "alias_of_function_reads_its_free_names",
        [("a", "x = 1"), ("b", "def f():\n    return x\ng = f"), ("c", "print(g())")],
        {"a": {}, "b": {"x": "a"}, "c": {"g": "b", "x": "a"}},
    ),
    (
        "alias_of_value_is_a_plain_value",
        [("a", "x = 1"), ("b", "y = x"), ("c", "print(y)")],
        {"a": {}, "b": {"x": "a"}, "c": {"y": "b"}},
    ),
    (
        "alias_of_setup_function",
        [("setup", "def f():\n    return x\ng = f"), ("a", "x = 1"), ("b", "g()")],
        {"a": {}, "b": {"x": "a"}},
    ),
    # --- global ---
    (
        "global_rebind_versions_name",
        [("a", "x = 1"), ("b", "def f():\n    global x\n    x = 2"), ("c", "f()"), ("d", "print(x)")],
        {"a": {}, "b": {}, "c": {"f": "b", "x": "a"}, "d": {"x": "c"}},
    ),
    (
        "global_augmented",
        [("a", "n = 1"), ("b", "def bump():\n    global n\n    n += 1"), ("c", "bump()"), ("d", "print(n)")],
        {"a": {}, "b": {}, "c": {"bump": "b", "n": "a"}, "d": {"n": "c"}},
    ),
    (
        "global_creates_new_name",
        [("a", "def f():\n    global made\n    made = 2"), ("b", "f()"), ("c", "print(made)")],
        {"a": {}, "b": {"f": "a"}, "c": {"made": "b"}},
    ),
    (
        "function_mutating_global_list",
        [("a", "log = []"), ("b", "def note(m):\n    log.append(m)"), ("c", "note('x')"), ("d", "print(log)")],
        {"a": {}, "b": {}, "c": {"note": "b", "log": "a"}, "d": {"log": "c"}},
    ),
    (
        "function_setitem_on_global",
        [("a", "d = {}"), ("b", "def put():\n    d['k'] = 1"), ("c", "put()"), ("e", "print(d)")],
        {"a": {}, "b": {}, "c": {"put": "b", "d": "a"}, "e": {"d": "c"}},
    ),
    # --- classes ---
    (
        "class_body_reads_at_definition",
        [("a", "k = 3"), ("b", "class C:\n    y = k"), ("c", "C()")],
        {"a": {}, "b": {"k": "a"}, "c": {"C": "b"}},
    ),
    ("class_body_own_names_shadow", [("a", "y = 1"), ("b", "class C:\n    y = 2\n    z = y")], {"a": {}, "b": {}}),
    (
        "class_method_reads_when_used",
        [("a", "rate = 2"), ("b", "class C:\n    def m(self):\n        return rate"), ("c", "C().m()")],
        {"a": {}, "b": {}, "c": {"C": "b", "rate": "a"}},
    ),
    (
        "class_base_read",
        [("a", "class Base:\n    pass"), ("b", "class C(Base):\n    pass"), ("c", "C()")],
        {"a": {}, "b": {"Base": "a"}, "c": {"C": "b"}},
    ),
    # --- comprehensions, lambdas, generators ---
    (
        "comprehension_iter_and_free_names",
        [("a", "xs = [1]\nk = 2"), ("b", "ys = [x * k for x in xs]"), ("c", "print(ys)")],
        {"a": {}, "b": {"xs": "a", "k": "a"}, "c": {"ys": "b"}},
    ),
    (
        "comprehension_target_shadows_global",
        [("a", "x = 5\nxs = [1]"), ("b", "ys = [x for x in xs]")],
        {"a": {}, "b": {"xs": "a"}},
    ),
    (
        "comprehension_target_does_not_leak",
        [("a", "x = 5\nxs = [1]"), ("b", "ys = [x for x in xs]"), ("c", "print(x)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"x": "a"}},
    ),
    (
        "dict_set_genexp",
        [
            ("a", "xs = [1]\nk = 2\nz = 3\nw = 4"),
            ("b", "d = {v: k for v in xs if v < z}\ns = {v for v in xs}\nt = sum(v * w for v in xs)"),
        ],
        {"a": {}, "b": {"xs": "a", "k": "a", "z": "a", "w": "a"}},
    ),
    (
        "nested_comprehension",
        [("a", "m = [[1]]"), ("b", "flat = [c for row in m for c in row]")],
        {"a": {}, "b": {"m": "a"}},
    ),
    (
        "walrus_in_comprehension_binds_outside",
        [("a", "xs = [1]"), ("b", "ys = [y for v in xs if (y := v) > 0]"), ("c", "print(y)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"y": "b"}},
    ),
    (
        "lambda_called_inline_reads_now",
        [("a", "w = {1: 2}\nxs = [1]"), ("b", "ys = sorted(xs, key=lambda v: w[v])")],
        {"a": {}, "b": {"xs": "a", "w": "a"}},
    ),
    (
        "lambda_bound_reads_when_called",
        [("a", "k = 2"), ("b", "f = lambda v: v * k"), ("c", "print(f(1))")],
        {"a": {}, "b": {}, "c": {"f": "b", "k": "a"}},
    ),
    (
        "lambda_parameter_shadows",
        [("a", "v = 2"), ("b", "f = lambda v: v"), ("c", "f(1)")],
        {"a": {}, "b": {}, "c": {"f": "b"}},
    ),
    # --- augmented assignment, del ---
    (
        "augmented_reads_and_writes",
        [("a", "x = 1"), ("b", "x += 1"), ("c", "print(x)")],
        {"a": {}, "b": {"x": "a"}, "c": {"x": "b"}},
    ),
    (
        "augmented_subscript_mutates",
        [("a", "counts = {'a': 0}"), ("b", "counts['a'] += 1"), ("c", "print(counts)")],
        {"a": {}, "b": {"counts": "a"}, "c": {"counts": "b"}},
    ),
    (
        "del_subscript_mutates",
        [("a", "d = {'a': 1}"), ("b", "del d['a']"), ("c", "print(d)")],
        {"a": {}, "b": {"d": "a"}, "c": {"d": "b"}},
    ),
    (
        "del_then_redefine",
        [("a", "x = 1"), ("b", "del x\nx = 2"), ("c", "print(x)")],
        {"a": {}, "b": {"x": "a"}, "c": {"x": "b"}},
    ),
    # --- imports ---
    (
        "import_in_step_is_an_output",
        [("a", "import os.path\nfrom json import dumps as dj"), ("b", "print(os.path.sep, dj(1))")],
        {"a": {}, "b": {"os": "a", "dj": "a"}},
    ),
    (
        "setup_import_is_ambient",
        [("setup", "import numpy as np"), ("a", "x = np.zeros(2)"), ("b", "np.random.seed(0)\nprint(x)")],
        {"a": {}, "b": {"x": "a"}},
    ),
    # --- for / with / walrus / try / match targets ---
    (
        "for_targets",
        [("a", "ps = [(1, (2, 3))]"), ("b", "for i, (j, k) in ps:\n    pass"), ("c", "print(i, j, k)")],
        {"a": {}, "b": {"ps": "a"}, "c": {"i": "b", "j": "b", "k": "b"}},
    ),
    (
        "with_target",
        [("a", "path = 'f'"), ("b", "with open(path) as fh:\n    data = fh.read()"), ("c", "print(data)")],
        {"a": {}, "b": {"path": "a"}, "c": {"data": "b"}},
    ),
    (
        "walrus_in_if",
        [("a", "xs = [1]"), ("b", "if (n := len(xs)) > 0:\n    pass"), ("c", "print(n)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"n": "b"}},
    ),
    (
        "try_except_names",
        [
            ("a", "raw = 'x'"),
            ("b", "try:\n    v = int(raw)\nexcept ValueError as err:\n    v = -1\n    msg = str(err)"),
            ("c", "print(v, msg)"),
        ],
        {"a": {}, "b": {"raw": "a"}, "c": {"v": "b", "msg": "b"}},
    ),
    (
        "match_capture",
        [("a", "p = (1, 2)"), ("b", "match p:\n    case (u, w):\n        s = u + w"), ("c", "print(s, u)")],
        {"a": {}, "b": {"p": "a"}, "c": {"s": "b", "u": "b"}},
    ),
    # --- conditional rebinding keeps the upstream value flowing ---
    (
        "conditional_rebind_takes_upstream",
        [("a", "x = 1\nflag = True"), ("b", "if flag:\n    x = 2"), ("c", "print(x)")],
        {"a": {}, "b": {"x": "a", "flag": "a"}, "c": {"x": "b"}},
    ),
    (
        "loop_body_rebind_takes_upstream",
        [("a", "best = 0\nxs = [3]"), ("b", "for v in xs:\n    best = v"), ("c", "print(best)")],
        {"a": {}, "b": {"xs": "a", "best": "a"}, "c": {"best": "b"}},
    ),
    # --- in-place mutation is a new version ---
    (
        "list_append",
        [("a", "lst = []"), ("b", "lst.append(1)"), ("c", "print(lst)")],
        {"a": {}, "b": {"lst": "a"}, "c": {"lst": "b"}},
    ),
    (
        "setitem",
        [("a", "df = {}"), ("b", "df['a'] = 1"), ("c", "print(df)")],
        {"a": {}, "b": {"df": "a"}, "c": {"df": "b"}},
    ),
    (
        "attribute_chain_assign",
        [("a", "class M:\n    pass\nm = M()\nm.p = M()"), ("b", "m.p.lr = 0.1"), ("c", "print(m.p.lr)")],
        {"a": {}, "b": {"m": "a"}, "c": {"m": "b"}},
    ),
    (
        "model_fit",
        [("a", "model = object()"), ("b", "model.fit([[1]], [1])"), ("c", "print(model)")],
        {"a": {}, "b": {"model": "a"}, "c": {"model": "b"}},
    ),
    (
        "inplace_true",
        [("a", "df = 1"), ("b", "df.drop(columns=['a'], inplace=True)"), ("c", "print(df)")],
        {"a": {}, "b": {"df": "a"}, "c": {"df": "b"}},
    ),
    (
        "inplace_false_is_a_read",
        [("a", "df = 1"), ("b", "d2 = df.drop(columns=['a'], inplace=False)"), ("c", "print(df)")],
        {"a": {}, "b": {"df": "a"}, "c": {"df": "a"}},
    ),
    (
        "non_mutating_method_is_a_read",
        [("a", "df = 1"), ("b", "print(df.head())"), ("c", "print(df)")],
        {"a": {}, "b": {"df": "a"}, "c": {"df": "a"}},
    ),
    (
        "mutating_subscript_chain",
        [("a", "df = {}"), ("b", "df['a'].loc[0] = 1"), ("c", "print(df)")],
        {"a": {}, "b": {"df": "a"}, "c": {"df": "b"}},
    ),
    (
        "method_on_subscript_mutates_root",
        [("a", "models = {'a': 1}"), ("b", "models['a'].fit([[1]], [1])"), ("c", "print(models)")],
        {"a": {}, "b": {"models": "a"}, "c": {"models": "b"}},
    ),
    (
        "step_mutating_setup_value_versions_it",
        [("setup", "CONFIG = {}"), ("a", "CONFIG['k'] = 1"), ("b", "print(CONFIG)")],
        {"a": {}, "b": {"CONFIG": "a"}},
    ),
    # --- aliases: changing (part of) a variable's object through another name is a new version of it ---
    (
        "alias_plain_name",
        [("a", "xs = [1]"), ("b", "ys = xs\nys.append(2)"), ("c", "print(xs)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"xs": "b"}},
    ),
    (
        "alias_for_target",
        [("a", "rows = [[1]]"), ("b", "for row in rows:\n    row.append(0)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "alias_enumerate_target",
        [("a", "rows = [[1]]"), ("b", "for i, row in enumerate(rows):\n    row.append(i)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    # an unpacked item may come from either sequence: both are new versions
    (
        "alias_zip_targets",
        [
            ("a", "xs = [[1]]\nys = [[2]]\nzs = [3]"),
            ("b", "for x, y in zip(xs, ys):\n    y.append(0)"),
            ("c", "print(xs, ys, zs)"),
        ],
        {"a": {}, "b": {"xs": "a", "ys": "a"}, "c": {"xs": "b", "ys": "b", "zs": "a"}},
    ),
    (
        "alias_dict_items",
        [
            ("a", "groups = {'a': [1]}"),
            ("b", "for key, members in groups.items():\n    members.append(key)"),
            ("c", "print(groups)"),
        ],
        {"a": {}, "b": {"groups": "a"}, "c": {"groups": "b"}},
    ),
    (
        "alias_dict_values_in_comprehension",
        [
            ("a", "groups = {'a': [1]}"),
            ("b", "[members.clear() for members in groups.values()]"),
            ("c", "print(groups)"),
        ],
        {"a": {}, "b": {"groups": "a"}, "c": {"groups": "b"}},
    ),
    (
        "alias_subscript",
        [("a", "m = [[0]]"), ("b", "first = m[0]\nfirst[0] = 5"), ("c", "print(m)")],
        {"a": {}, "b": {"m": "a"}, "c": {"m": "b"}},
    ),
    (
        "alias_attribute",
        [
            ("a", "class Box:\n    pass\nbox = Box()\nbox.items = []"),
            ("b", "inner = box.items\ninner.append(1)"),
            ("c", "print(box.items)"),
        ],
        {"a": {}, "b": {"box": "a"}, "c": {"box": "b"}},
    ),
    (
        "alias_with_target",
        [
            (
                "a",
                "class Ctx:\n    def __enter__(self):\n        return self\n"
                "    def __exit__(self, *exc):\n        return False\nctx = Ctx()",
            ),
            ("b", "with ctx as opened:\n    opened.value = 1"),
            ("c", "print(ctx.value)"),
        ],
        {"a": {}, "b": {"ctx": "a"}, "c": {"ctx": "b"}},
    ),
    (
        "alias_through_get",
        [("a", "cfg = {'model': {}}"), ("b", "params = cfg.get('model')\nparams['lr'] = 0.1"), ("c", "print(cfg)")],
        {"a": {}, "b": {"cfg": "a"}, "c": {"cfg": "b"}},
    ),
    (
        "alias_chain",
        [("a", "m = [[1]]"), ("b", "n = m\nrow = n[0]\nrow.append(2)"), ("c", "print(m)")],
        {"a": {}, "b": {"m": "a"}, "c": {"m": "b"}},
    ),
    (
        "alias_augmented",
        [("a", "rows = [[1]]"), ("b", "for row in rows:\n    row += [0]"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "alias_across_cells_of_a_step",
        [("a", "rows = [[1]]"), ("b", "row = rows[0]"), ("b", "row.append(2)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "alias_in_function_body",
        [
            ("a", "rows = [[1]]"),
            ("b", "def pad():\n    for row in rows:\n        row.append(0)"),
            ("c", "pad()"),
            ("d", "print(rows)"),
        ],
        {"a": {}, "b": {}, "c": {"pad": "b", "rows": "a"}, "d": {"rows": "c"}},
    ),
    (
        "copy_is_not_an_alias",
        [("a", "xs = [1]"), ("b", "ys = xs.copy()\nys.append(2)"), ("c", "print(xs)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"xs": "a"}},
    ),
    (
        "fresh_values_are_not_aliases",
        [
            ("a", "xs = [1]"),
            ("b", "n = len(xs)\nm = xs + [2]\nk = sorted(xs)\nn += 1\nm.append(3)\nk.append(4)"),
            ("c", "print(xs)"),
        ],
        {"a": {}, "b": {"xs": "a"}, "c": {"xs": "a"}},
    ),
    (
        "rebound_alias_is_no_longer_one",
        [("a", "xs = [1]"), ("b", "t = xs\nt = []\nt.append(1)"), ("c", "print(xs)")],
        {"a": {}, "b": {"xs": "a"}, "c": {"xs": "a"}},
    ),
    # --- method calls: any method may change its receiver, unless it is known not to ---
    (
        "unknown_method_is_a_new_version",
        [
            (
                "a",
                "class Stack:\n    def __init__(self):\n        self.items = []\n"
                "    def push(self, v):\n        self.items.append(v)\ns = Stack()",
            ),
            ("b", "s.push(1)"),
            ("c", "print(s.items)"),
        ],
        {"a": {}, "b": {"s": "a"}, "c": {"s": "b"}},
    ),
    (
        "known_read_only_methods_are_reads",
        [
            ("a", "d = {'k': [1]}\nname = 'x'\nimport numpy as np\narr = np.zeros(2)"),
            ("b", "print(d.get('k'), list(d.keys()), name.upper(), d.copy(), arr.sum(), arr.reshape(2, 1))"),
            ("c", "print(d, name, arr)"),
        ],
        {"a": {}, "b": {"d": "a", "name": "a", "arr": "a"}, "c": {"d": "a", "name": "a", "arr": "a"}},
    ),
    (
        "method_of_a_view_changes_the_root",
        [("a", "d = {'k': [1]}"), ("b", "d.get('k').append(2)"), ("c", "print(d)")],
        {"a": {}, "b": {"d": "a"}, "c": {"d": "b"}},
    ),
    (
        "notebook_method_changing_self_overrides_read_only_name",
        [
            (
                "a",
                "class Cache:\n    def __init__(self):\n        self.hits = 0\n    def get(self, k):\n"
                "        self.hits += 1\n        return k\ncache = Cache()",
            ),
            ("b", "print(cache.get('x'))"),
            ("c", "print(cache.hits)"),
        ],
        {"a": {}, "b": {"cache": "a"}, "c": {"cache": "b"}},
    ),
    (
        "method_of_an_import_versions_nothing",
        [("setup", "import math"), ("a", "x = math.floor(2.5)"), ("b", "math.sqrt(x)\nprint(x)"), ("c", "print(x)")],
        {"a": {}, "b": {"x": "a"}, "c": {"x": "a"}},
    ),
    # --- a function that changes an argument in place: the call is a new version of the argument ---
    (
        "function_changing_parameter_same_step",
        [("a", "model = []"), ("b", "def train(m, X):\n    m.append(X)\ntrain(model, 1)"), ("c", "print(model)")],
        {"a": {}, "b": {"model": "a"}, "c": {"model": "b"}},
    ),
    (
        "function_changing_parameter_defined_earlier",
        [
            ("a", "def train(m, X, y):\n    m.fit(X, y)"),
            ("b", "model = object()\nX = y = 0"),
            ("c", "train(model, X, y)"),
            ("d", "print(model)"),
        ],
        {"a": {}, "b": {}, "c": {"train": "a", "model": "b", "X": "b", "y": "b"}, "d": {"model": "c"}},
    ),
    (
        "function_changing_parameter_in_setup",
        [
            ("setup", "def add_col(df):\n    df['x'] = 1"),
            ("a", "frame = {}"),
            ("b", "add_col(frame)"),
            ("c", "print(frame)"),
        ],
        {"a": {}, "b": {"frame": "a"}, "c": {"frame": "b"}},
    ),
    (
        "function_changing_keyword_argument",
        [
            ("a", "rows = []\nother = []"),
            ("b", "def fill(src, dst):\n    dst.extend(src)\nfill(dst=rows, src=other)"),
            ("c", "print(rows, other)"),
        ],
        {"a": {}, "b": {"rows": "a", "other": "a"}, "c": {"rows": "b", "other": "a"}},
    ),
    (
        "function_changing_second_positional_only",
        [
            ("a", "rows = []\nother = []"),
            ("b", "def fill(src, dst):\n    dst.extend(src)\nfill(other, rows)"),
            ("c", "print(rows, other)"),
        ],
        {"a": {}, "b": {"rows": "a", "other": "a"}, "c": {"rows": "b", "other": "a"}},
    ),
    (
        "function_changing_part_of_argument_versions_its_root",
        [("a", "cfg = {'m': []}"), ("b", "def add(xs):\n    xs.append(1)\nadd(cfg['m'])"), ("c", "print(cfg)")],
        {"a": {}, "b": {"cfg": "a"}, "c": {"cfg": "b"}},
    ),
    (
        "function_changing_parameter_through_alias_and_loop",
        [
            ("a", "rows = [[1]]"),
            ("b", "def zero(table):\n    for row in table:\n        row.append(0)"),
            ("c", "zero(rows)"),
            ("d", "print(rows)"),
        ],
        {"a": {}, "b": {}, "c": {"zero": "b", "rows": "a"}, "d": {"rows": "c"}},
    ),
    (
        "function_passing_parameter_to_changing_helper",
        [
            ("a", "def add(xs):\n    xs.append(1)"),
            ("b", "def outer(ys):\n    add(ys)\n    return len(ys)"),
            ("c", "rows = []"),
            ("d", "outer(rows)"),
            ("e", "print(rows)"),
        ],
        {"a": {}, "b": {}, "c": {}, "d": {"outer": "b", "add": "a", "rows": "c"}, "e": {"rows": "d"}},
    ),
    (
        "helper_defined_after_caller_resolved_at_call",
        [
            ("a", "def outer(ys):\n    helper(ys)"),
            ("b", "def helper(xs):\n    xs.clear()"),
            ("c", "rows = [1]"),
            ("d", "outer(rows)"),
            ("e", "print(rows)"),
        ],
        {"a": {}, "b": {}, "c": {}, "d": {"outer": "a", "helper": "b", "rows": "c"}, "e": {"rows": "d"}},
    ),
    (
        "function_passing_global_to_changing_helper",
        [
            ("a", "rows = []\ndef add(xs):\n    xs.append(1)"),
            ("b", "def go():\n    add(rows)\ngo()"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"add": "a", "rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "nested_helper_changing_parameter",
        [
            ("a", "rows = []"),
            ("b", "def outer(ys):\n    def inner(zs):\n        zs.append(1)\n    inner(ys)\nouter(rows)"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "decorated_function_changing_parameter",
        [
            ("setup", "import functools"),
            ("a", "rows = []"),
            ("b", "@functools.wraps(print)\ndef add(xs):\n    xs.append(1)\nadd(rows)"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "lambda_changing_parameter",
        [("a", "rows = []"), ("b", "add = lambda xs: xs.append(1)\nadd(rows)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "function_alias_changing_parameter",
        [("a", "rows = []\ndef add(xs):\n    xs.append(1)"), ("b", "put = add\nput(rows)"), ("c", "print(rows)")],
        {"a": {}, "b": {"add": "a", "rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "star_arguments_are_changed_conservatively",
        [
            ("a", "rows = []\nargs = [rows]\nopts = {'xs': rows}\ndef add(xs):\n    xs.append(1)"),
            ("b", "add(*args)\nadd(**opts)"),
            ("c", "print(args, opts)"),
        ],
        {"a": {}, "b": {"add": "a", "args": "a", "opts": "a"}, "c": {"args": "b", "opts": "b"}},
    ),
    (
        "function_changing_argument_in_comprehension",
        [
            ("a", "rows = [[1]]\ndef add(xs):\n    xs.append(1)"),
            ("b", "done = [add(r) for r in rows]"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"add": "a", "rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "function_only_reading_parameter_is_a_read",
        [
            ("a", "rows = [1]"),
            ("b", "def total(xs):\n    ys = xs.copy()\n    ys.append(0)\n    return sum(xs)\nprint(total(rows))"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "a"}},
    ),
    (
        "function_changing_its_own_copy_is_a_read",
        [
            ("a", "frame = {'a': 1}\nrows = [1]"),
            (
                "b",
                "def add(df, xs):\n    \"doc\"\n    df = df.copy()\n    df['x'] = 1\n    xs = list(xs)\n"
                "    helper(xs)\n    return df\ndef helper(v):\n    v.append(0)\nout = add(frame, rows)",
            ),
            ("c", "print(frame, rows)"),
        ],
        {"a": {}, "b": {"frame": "a", "rows": "a"}, "c": {"frame": "a", "rows": "a"}},
    ),
    (
        "function_changing_parameter_before_rebinding_it",
        [
            ("a", "frame = {'a': 1}"),
            ("b", "def add(df):\n    df['x'] = 1\n    df = dict(df)\nadd(frame)"),
            ("c", "print(frame)"),
        ],
        {"a": {}, "b": {"frame": "a"}, "c": {"frame": "b"}},
    ),
    (
        "function_rebinding_parameter_through_changing_call",
        [
            ("a", "frame = {'a': 1}"),
            ("b", "def prep(d):\n    d['x'] = 1\n    return 0\ndef add(df):\n    df = prep(df)\nadd(frame)"),
            ("c", "print(frame)"),
        ],
        {"a": {}, "b": {"frame": "a"}, "c": {"frame": "b"}},
    ),
    (
        "unknown_functions_only_read_their_arguments",
        [
            ("setup", "import pandas as pd\nfrom sklearn.model_selection import train_test_split"),
            ("a", "X = [1, 2, 3, 4]\ny = [0, 1, 0, 1]\na = pd.DataFrame({'v': [1]})\nb = a.copy()"),
            ("b", "print(X, len(X))\nparts = train_test_split(X, y)\nboth = pd.concat([a, b])"),
            ("c", "print(X, y, a, b)"),
        ],
        {"a": {}, "b": {"X": "a", "y": "a", "a": "a", "b": "a"}, "c": {"X": "a", "y": "a", "a": "a", "b": "a"}},
    ),
    (
        "function_changing_a_fresh_argument_changes_nothing",
        [
            ("a", "rows = [1]"),
            ("b", "def add(xs):\n    xs.append(1)\nadd(rows.copy())\nadd(list(rows))"),
            ("c", "print(rows)"),
        ],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "a"}},
    ),
    (
        "variable_rebound_over_changing_function_is_not_a_function",
        [("a", "def f(xs):\n    xs.append(1)"), ("b", "f = print\nrows = [1]"), ("c", "f(rows)"), ("d", "print(rows)")],
        {"a": {}, "b": {}, "c": {"f": "b", "rows": "b"}, "d": {"rows": "b"}},
    ),
    # --- library functions that change an argument in place ---
    (
        "random_shuffle_module",
        [("setup", "import random"), ("a", "rows = [1, 2]"), ("b", "random.shuffle(rows)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "random_shuffle_from_import",
        [("setup", "from random import shuffle"), ("a", "rows = [1, 2]"), ("b", "shuffle(rows)"), ("c", "print(rows)")],
        {"a": {}, "b": {"rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "random_shuffle_import_in_step",
        [("a", "from random import shuffle as mix\nrows = [1, 2]"), ("b", "mix(rows)"), ("c", "print(rows)")],
        {"a": {}, "b": {"mix": "a", "rows": "a"}, "c": {"rows": "b"}},
    ),
    (
        "numpy_shuffle_and_writes",
        [
            ("setup", "import numpy as np\nimport numpy\nfrom numpy import random as npr"),
            ("a", "a = np.arange(4)\nb = np.arange(4)\nc = np.zeros((2, 2))\nd = np.arange(3)"),
            ("b", "np.random.shuffle(a)\nnumpy.copyto(b, a)\nnp.fill_diagonal(c, 1)\nnpr.shuffle(d)"),
            ("c", "print(a, b, c, d)"),
        ],
        {"a": {}, "b": {"a": "a", "b": "a", "c": "a", "d": "a"}, "c": {"a": "b", "b": "b", "c": "b", "d": "b"}},
    ),
    (
        "generator_shuffle_method_changes_its_argument",
        [
            ("setup", "import numpy as np"),
            ("a", "rng = np.random.default_rng(0)\nx = np.arange(3)"),
            ("b", "rng.shuffle(x)"),
            ("c", "print(x)"),
        ],
        {"a": {}, "b": {"rng": "a", "x": "a"}, "c": {"x": "b"}},
    ),
    (
        "heapq_and_bisect",
        [
            ("setup", "import heapq\nfrom bisect import insort"),
            ("a", "heap = []\nsorted_ = [1, 3]"),
            ("b", "heapq.heappush(heap, 2)\ninsort(sorted_, 2)"),
            ("c", "print(heap, sorted_)"),
        ],
        {"a": {}, "b": {"heap": "a", "sorted_": "a"}, "c": {"heap": "b", "sorted_": "b"}},
    ),
    (
        "sklearn_utils_shuffle_returns_copies",
        [
            ("setup", "from sklearn.utils import shuffle"),
            ("a", "X = [1, 2]"),
            ("b", "Xs = shuffle(X)"),
            ("c", "print(X)"),
        ],
        {"a": {}, "b": {"X": "a"}, "c": {"X": "a"}},
    ),
    (
        "library_shuffle_inside_notebook_function",
        [
            ("setup", "import random"),
            ("a", "def mix(xs):\n    random.shuffle(xs)"),
            ("b", "rows = [1, 2]"),
            ("c", "mix(rows)"),
            ("d", "print(rows)"),
        ],
        {"a": {}, "b": {}, "c": {"mix": "a", "rows": "b"}, "d": {"rows": "c"}},
    ),
    # --- IPython syntax is transformed, not a syntax error ---
    (
        "ipython_bash_cell_magic_reads_nothing",
        [("a", "x = 1"), ("b", "%%bash\necho $x"), ("c", "print(x)")],
        {"a": {}, "b": {}, "c": {"x": "a"}},
    ),
    (
        "ipython_line_magic_and_help",
        [("a", "%matplotlib inline\nx = 1"), ("b", "x?\nprint(x)")],
        {"a": {}, "b": {"x": "a"}},
    ),
    (
        "ipython_shell_assignment",
        [("a", "files = !ls\n!echo hi"), ("b", "print(files)")],
        {"a": {}, "b": {"files": "a"}},
    ),
    ("ipython_time_cell_magic_body_flows", [("a", "%%time\nx = 1"), ("b", "print(x)")], {"a": {}, "b": {"x": "a"}}),
]


@pytest.mark.parametrize(("steps", "expected"), [pytest.param(s, e, id=i) for i, s, e in CASES])
def test_step_inputs(make_notebook, steps, expected) -> None:
    spec = compile_steps(make_notebook, steps)
    assert io_of(spec) == expected
    # outputs are exactly what later steps take; upstream follows the inputs
    for step in spec.steps:
        taken = sorted({v for s in spec.steps for v, p in s.inputs.items() if p == step.name})
        assert sorted(step.outputs) == taken
        assert set(step.upstream) == set(step.inputs.values())


def test_mutation_through_loop_alias_versions_container(make_notebook) -> None:
    spec = compile_steps(
        make_notebook, [("a", "rows = [[1]]"), ("b", "for row in rows:\n    row.append(0)"), ("c", "print(rows)")]
    )
    assert spec.step("c").inputs == {"rows": "b"}


def test_parameter_rebound_in_step_flows_as_value(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook([("C = 1.0", ["parameters"]), ("C = C * 2", ["step:a"]), ("print(C)", ["step:b"])])
    )
    assert spec.step("a").params == ["C"]
    assert spec.step("b").inputs == {"C": "a"} and spec.step("b").params == []


def test_outputs_of_producer(make_notebook) -> None:
    spec = compile_steps(make_notebook, [("a", "x = 1\ny = 2\nunused = 3"), ("b", "print(x)"), ("c", "print(y, x)")])
    assert spec.step("a").outputs == ["x", "y"]
    assert spec.step("b").outputs == []
    assert spec.step("c").upstream == ["a"]


def test_mutated_value_reaches_reader_through_mutating_step(make_notebook) -> None:
    spec = compile_steps(
        make_notebook, [("a", "lst = [1]"), ("b", "lst.append(2)"), ("c", "lst.sort()"), ("d", "print(lst)")]
    )
    assert spec.step("d").inputs == {"lst": "c"}
    assert spec.step("c").upstream == ["b"] and spec.step("b").upstream == ["a"]


def test_read_of_variable_deleted_in_earlier_step_is_error(make_notebook) -> None:
    with pytest.raises(NotebookError, match=r"cell 3 `print\(x\)`.*reads 'x', deleted in cell 2"):
        compile_steps(make_notebook, [("a", "x = 1"), ("b", "del x"), ("c", "print(x)")])


def test_except_name_is_unbound_after_handler(make_notebook) -> None:
    with pytest.raises(NotebookError, match="reads 'e'"):
        compile_steps(
            make_notebook, [("a", "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    pass"), ("b", "print(e)")]
        )


def test_annotation_without_value_defines_nothing(make_notebook) -> None:
    with pytest.raises(NotebookError, match="reads 'x', which no earlier step"):
        compile_steps(make_notebook, [("a", "x: int"), ("b", "print(x)")])


def test_star_import_in_step_warns_and_stops_unknown_name_errors(make_notebook) -> None:
    spec = compile_steps(make_notebook, [("a", "from math import *"), ("b", "print(pi)")])
    assert any("from math import *" in w for w in spec.warnings)
    assert spec.step("b").inputs == {}


def test_parameters_are_params_not_inputs(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook([("C = 0.5\nn = 3", ["parameters"]), ("x = C * 2", ["step:a"]), ("print(x, n)", ["step:b"])])
    )
    assert spec.step("a").params == ["C"] and spec.step("a").inputs == {}
    assert spec.step("b").params == ["n"] and spec.step("b").inputs == {"x": "a"}


def test_function_reading_parameter_makes_caller_depend_on_it(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook(
            [("lr = 0.1", ["parameters"]), ("def f():\n    return lr", ["step:a"]), ("print(f())", ["step:b"])]
        )
    )
    assert spec.step("a").params == []
    assert spec.step("b").params == ["lr"]


# --- cell_events directly -------------------------------------------------------------------------------


def events(source: str) -> list:
    return cell_events(ast.parse(to_python(source)))


def names(evs: list, kind: type) -> list[str]:
    return [e.name for e in evs if isinstance(e, kind)]


def test_events_are_in_evaluation_order() -> None:
    evs = events("y = x + 1\nx = y")
    assert [(type(e).__name__, e.name) for e in evs] == [("Read", "x"), ("Write", "y"), ("Read", "y"), ("Write", "x")]


def test_events_augmented_assignment_reads_then_writes() -> None:
    evs = events("total += step")
    assert [(type(e).__name__, e.name) for e in evs] == [("Read", "total"), ("Read", "step"), ("Write", "total")]


def test_events_function_body_is_deferred() -> None:
    evs = events("def f(a, b=default):\n    global g\n    g = a + free\n    local = 1\n    return local")
    assert names(evs, Read) == ["default"]
    (write,) = [e for e in evs if isinstance(e, Write)]
    assert write.name == "f" and write.kind == "def"
    assert write.deferred_reads == {"free"}
    assert write.deferred_writes == {"g"}


def test_events_class_methods_deferred_body_immediate() -> None:
    evs = events("class C(Base):\n    attr = now\n    def m(self):\n        return later")
    assert set(names(evs, Read)) == {"Base", "now"}
    (write,) = [e for e in evs if isinstance(e, Write)]
    assert write.kind == "def" and write.deferred_reads == {"later"}


def test_events_mutations() -> None:
    evs = events(
        "df['a'] = 1\nlst.append(2)\nmodel.fit(X)\ndf2.drop(columns=['a'], inplace=True)\nobj.attr = 3\nother.head()"
    )
    assert names(evs, Mutate) == ["df", "lst", "model", "df2", "obj"]
    assert "other" in names(evs, Read) and "other" not in names(evs, Mutate)


def test_events_unknown_methods_mutate_known_read_only_ones_do_not() -> None:
    evs = events(
        "s.push(1)\nrng.normal(0, 1)\nopt.step()\ndf.head()\nd.get('k')\nname.upper()\n"
        "model.predict(X)\narr.reshape(2, 1)\ndf.groupby('a').sum()\nx.copy().append(1)"
    )
    assert names(evs, Mutate) == ["s", "rng", "opt"]


def aliases_of(source: str) -> dict[str, set[str]]:
    return {e.name: set(e.aliases) for e in events(source) if isinstance(e, Write)}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("for row in rows:\n    pass", {"row": {"rows"}}),
        ("for i, row in enumerate(rows):\n    pass", {"i": {"rows"}, "row": {"rows"}}),
        ("for a, b in zip(xs, ys):\n    pass", {"a": {"xs", "ys"}, "b": {"xs", "ys"}}),
        ("for k, v in d.items():\n    pass", {"k": {"d"}, "v": {"d"}}),
        ("for v in sorted(d.values()):\n    pass", {"v": {"d"}}),
        ("t = X[0]", {"t": {"X"}}),
        ("t = X.attr.inner", {"t": {"X"}}),
        ("t = d.get('k')", {"t": {"d"}}),
        ("t = model.fit(X)", {"t": {"model"}}),
        ("with X as t:\n    pass", {"t": {"X"}}),
        ("b = a", {"b": {"a"}}),
        ("t = a if c else b", {"t": {"a", "b"}}),
        ("pair = [a, b[0]]", {"pair": {"a", "b"}}),
        ("both = [*a, *b]", {"both": {"a", "b"}}),
        ("if (t := X[0]):\n    pass", {"t": {"X"}}),
        ("t = X.copy()", {"t": set()}),
        ("t = len(X)", {"t": set()}),
        ("t = X + 1", {"t": set()}),
        ("t = f(X)", {"t": set()}),
        ("t = X.sum()", {"t": set()}),
        ("for i in range(len(X)):\n    pass", {"i": set()}),
    ],
)
def test_events_aliases(source: str, expected: dict[str, set[str]]) -> None:
    assert aliases_of(source) == expected


def test_events_function_mutating_through_alias_writes_the_global() -> None:
    (write,) = [
        e
        for e in events(
            "def f():\n    for r in rows:\n        r.append(1)\n    t = cfg['a']\n"
            "    t += [1]\n    local = []\n    local.append(1)"
        )
        if isinstance(e, Write)
    ]
    assert write.deferred_writes == {"rows", "cfg"}


def test_events_report_methods_changing_their_object() -> None:
    changing: set[str] = set()
    cell_events(
        ast.parse(
            "class A:\n    def transform(self, X):\n        self.seen = X\n        return X\n"
            "    def push(self, v):\n        items = self.items\n        items.append(v)\n"
            "    def head(self):\n        return self.items[:5]\n"
            "    @classmethod\n    def reset(cls):\n        cls.count = 0\n"
            "    @staticmethod\n    def mean(values):\n        values.append(0)\n        return 0"
        ),
        changing=changing,
    )
    assert changing == {"transform", "push", "reset"}


def test_method_calling_a_changing_method_changes_its_object_too(make_notebook) -> None:
    spec = compile_steps(
        make_notebook,
        [
            (
                "a",
                "class Model:\n    def __init__(self):\n        self.n = 0\n    def transform(self, X):\n"
                "        self.n += 1\n        return X\n    def describe(self):\n        return self.transform(0)\n"
                "m = Model()",
            ),
            ("b", "print(m.describe())"),
            ("c", "print(m.n)"),
        ],
    )
    assert spec.step("c").inputs == {"m": "b"}


def test_events_delete_and_star_import() -> None:
    evs = events("del a, b\nfrom os.path import *")
    assert names(evs, Delete) == ["a", "b"]
    assert [e.module for e in evs if isinstance(e, StarImport)] == ["os.path"]


def test_events_conditional_writes() -> None:
    evs = events(
        "a = 1\nif c:\n    b = 2\nfor i in xs:\n    d = i\nwhile w:\n    e = 1\ntry:\n    f = 1\n"
        "except Exception:\n    pass\nwith cm as g:\n    h = 1"
    )
    conditional = {e.name: e.conditional for e in evs if isinstance(e, Write)}
    assert conditional == {"a": False, "b": True, "i": True, "d": True, "e": True, "f": True, "g": False, "h": False}


def test_events_imports_are_import_writes() -> None:
    evs = events("import a.b.c\nimport d as e\nfrom f import g, h as i")
    assert [(e.name, e.kind) for e in evs if isinstance(e, Write)] == [
        ("a", "import"),
        ("e", "import"),
        ("g", "import"),
        ("i", "import"),
    ]


def test_events_imports_carry_their_qualified_names() -> None:
    evs = events("import a.b.c\nimport d.e as f\nfrom g.h import i as j\nfrom . import k")
    assert [(e.name, e.binding) for e in evs if isinstance(e, Write)] == [
        ("a", "a"),
        ("f", "d.e"),
        ("j", "g.h.i"),
        ("k", None),
    ]


def test_events_calls_that_may_change_an_argument() -> None:
    evs = events("print(x, len(y))\nf(a, b.c, d.copy(), *e, k=g[0], **h)\nnp.random.shuffle(z)\nz.mean(w)\nf()")
    assert [(e.name, e.arguments) for e in evs if isinstance(e, Call)] == [
        (
            "f",
            (
                (0, frozenset({"a"})),
                (1, frozenset({"b"})),
                (-1, frozenset({"e"})),
                ("k", frozenset({"g"})),
                (None, frozenset({"h"})),
            ),
        ),
        ("np.random.shuffle", ((0, frozenset({"z"})),)),
    ]


def test_events_function_signature_reports_changed_and_passed_on_parameters() -> None:
    (write,) = [
        e
        for e in events("def f(a, b, *c, d, **e):\n    a.append(1)\n    g(b, d)\n    h(len(e))")
        if isinstance(e, Write)
    ]
    signature = write.binding
    assert (signature.positional, signature.keyword_only, signature.varargs, signature.varkw) == (
        ("a", "b"),
        {"d"},
        "c",
        "e",
    )
    assert signature.changed == {"a"}
    assert signature.calls == (("g", ((0, frozenset({"b"})), (1, frozenset({"d"})))),)
    assert [e.binding for e in events("def f(a):\n    return a.sum() + len(a)") if isinstance(e, Write)] == [None]


def test_events_comprehension_scope() -> None:
    evs = events("out = [x * k for x in xs if x > lo]")
    assert set(names(evs, Read)) == {"xs", "k", "lo"}
    assert names(evs, Write) == ["out"]


def test_events_except_name_written_then_deleted() -> None:
    evs = events("try:\n    pass\nexcept ValueError as err:\n    print(err)")
    assert [(type(e).__name__, e.name) for e in evs if getattr(e, "name", None) == "err"] == [
        ("Write", "err"),
        ("Read", "err"),
        ("Delete", "err"),
    ]


def test_events_ipython_syntax_is_not_a_syntax_error() -> None:
    evs = events("%load_ext autoreload\nout = !ls\nx?\nprint(out)")
    assert "out" in names(evs, Write) and "out" in names(evs, Read)
    assert "get_ipython" in names(evs, Read)


def test_nbmlops_control_magics_are_not_pipeline_code(make_notebook) -> None:
    from nbmlops.pipeline import compile_notebook

    spec = compile_notebook(
        make_notebook(
            [
                "%load_ext nbmlops",
                ("x = 1", ["step:a"]),
                "%pipeline run -p C=0.5",
                ("%%step b\nprint(x)\n%pipeline check", []),
            ]
        )
    )
    assert [c.index for c in spec.setup] == []
    assert [c.index for c in spec.step("a").cells] == [1]
    assert "%pipeline" not in spec.step("b").cells[0].code and "pipeline" not in spec.step("b").cells[0].code


def test_change_of_a_part_bound_in_an_earlier_step_is_a_warning(make_notebook) -> None:
    spec = compile_steps(
        make_notebook,
        [
            ("load", "rows = [[1], [2]]"),
            ("bind", "first = rows[0]"),
            ("change", "first.append(0)\nfirst.append(1)"),
            ("report", "print(rows)"),
        ],
    )
    assert spec.warnings == [
        "cell 3: step 'change' changes `first` in place, which step 'bind' bound as part of `rows`; steps receive "
        "separate copies, so later steps see `rows` without this change (a top-to-bottom run would show it): "
        "bind `first` and change it in the same step"
    ]


@pytest.mark.parametrize(
    "steps",
    [
        [("load", "rows = [[1], [2]]"), ("change", "first = rows[0]\nfirst.append(0)"), ("report", "print(rows)")],
        [("load", "rows = [[1], [2]]"), ("bind", "first = rows[0]"), ("read", "print(first[0])")],
        [("load", "rows = [[1], [2]]"), ("bind", "first = list(rows[0])"), ("change", "first.append(0)")],
    ],
    ids=["bound_and_changed_in_one_step", "only_read_later", "a_copy"],
)
def test_no_alias_warning_where_the_pipeline_gives_the_top_to_bottom_values(make_notebook, steps) -> None:
    assert compile_steps(make_notebook, steps).warnings == []
