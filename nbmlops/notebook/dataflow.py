"""Static dataflow of one cell: the ordered name events a top-to-bottom run would perform.

A cell's module-level code is walked in evaluation order and turned into events:
  Read(name)                      the name's current value is used
  Write(name, conditional, kind, aliases)
                                  the name is (re)bound; kind is "assign", "import", "def" or "alias"
                                  (`g = f`: deferred_reads holds the one name it copies)
  Delete(name)                    `del name`
  Mutate(name)                    the object is changed in place (`df["a"] = ...`, `lst.append(x)`,
                                  `model.fit(...)`, `df.drop(..., inplace=True)`, `s.push(1)`): a new version
                                  of it. Any method call may change its receiver, unless the method is one
                                  known not to (READ_ONLY_METHODS, less the methods the notebook's own classes
                                  define that change `self`).
  StarImport(module)              `from m import *`: names the analysis can't see
  Call(name, arguments)           `f(x, k=y)` of a name that is no builtin, or `np.random.shuffle(x)`: the
                                  compiler resolves f where the call runs (a notebook function whose Signature
                                  says it changes a parameter in place, itself or through the calls it passes
                                  it on to; a library function of ARGUMENT_CHANGING_FUNCTIONS) and makes the
                                  arguments it changes new versions. Any other function only reads them.
A Write's `aliases` are the variables whose object the new value may be, or be part of (`row` in
`for row in rows`, `t = X[i]`, `t = X.attr`, `with X as t`, `b = a`): the compiler makes a change of the
alias in place a new version of them too, within the step. A fresh value (`len(X)`, `X + 1`, `X.copy()`,
`f(X)`) aliases nothing.
Function and class bodies run later, when called, against the caller's globals: their free names are
recorded as deferred reads/writes on the Write(kind="def") event, and the compiler applies them wherever
the function or class is used.

The walkers dispatch on the exact node type through dicts and step only through the fields that can hold
nodes; ast.NodeVisitor's dispatch by method name and its iter_fields made this analysis as slow as parsing.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Methods known to change their receiver in place; never read-only, whatever type also has the name
# (ndarray.partition sorts in place, str.partition doesn't).
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "update",
        "add",
        "discard",
        "sort",
        "reverse",
        "setdefault",
        "popitem",
        "appendleft",
        "extendleft",
        "popleft",
        "rotate",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
        "fit",
        "partial_fit",
        "fit_transform",
        "fit_predict",
        "set_params",
        "set_output",
        "resize",
        "fill",
        "put",
        "itemset",
        "setflags",
        "partition",
        "__setitem__",
        "__delitem__",
        "set_index_inplace",
        "insert_column",
        "fillna_inplace",
    }
)

# Methods known to leave their receiver as it was. Any other method call may change its receiver in place
# (a user's `stack.push(1)`, `rng.normal()`, `optimizer.step()`): a new version of it. The read-only ones are
# those of the immutable builtins and the common ones of list/dict/set, pandas, numpy, scikit-learn, pathlib,
# re and logging; missing one only costs a step's parallelism, never a value.
READ_ONLY_METHODS = (
    frozenset(
        {
            name
            for kind in (str, bytes, int, float, complex, tuple, frozenset, range)
            for name in dir(kind)
            if not name.startswith("_") and callable(getattr(kind, name))
        }  # not range.step, int.real
        | {
            # containers
            "copy",
            "get",
            "keys",
            "items",
            "values",
            "index",
            "count",
            "union",
            "intersection",
            "difference",
            "symmetric_difference",
            "issubset",
            "issuperset",
            "isdisjoint",
            "fromkeys",
            "__getitem__",
            "__len__",
            "__contains__",
            "__iter__",
            "__repr__",
            "__str__",
            "__eq__",
            "__hash__",
            # pandas
            "head",
            "tail",
            "describe",
            "info",
            "groupby",
            "agg",
            "aggregate",
            "apply",
            "applymap",
            "map",
            "transform",
            "pipe",
            "merge",
            "join",
            "assign",
            "drop",
            "dropna",
            "fillna",
            "ffill",
            "bfill",
            "interpolate",
            "replace",
            "rename",
            "rename_axis",
            "reset_index",
            "set_index",
            "reindex",
            "sort_values",
            "sort_index",
            "astype",
            "convert_dtypes",
            "infer_objects",
            "isna",
            "isnull",
            "notna",
            "notnull",
            "isin",
            "between",
            "where",
            "mask",
            "clip",
            "round",
            "abs",
            "sum",
            "mean",
            "median",
            "mode",
            "std",
            "var",
            "sem",
            "skew",
            "kurt",
            "min",
            "max",
            "prod",
            "product",
            "nunique",
            "unique",
            "value_counts",
            "corr",
            "corrwith",
            "cov",
            "quantile",
            "rank",
            "cumsum",
            "cumprod",
            "cummax",
            "cummin",
            "diff",
            "pct_change",
            "shift",
            "rolling",
            "expanding",
            "ewm",
            "resample",
            "query",
            "filter",
            "select_dtypes",
            "sample",
            "nlargest",
            "nsmallest",
            "idxmax",
            "idxmin",
            "any",
            "all",
            "duplicated",
            "drop_duplicates",
            "explode",
            "stack",
            "unstack",
            "melt",
            "pivot",
            "pivot_table",
            "transpose",
            "squeeze",
            "equals",
            "memory_usage",
            "align",
            "combine",
            "combine_first",
            "add_prefix",
            "add_suffix",
            "droplevel",
            "swaplevel",
            "xs",
            "take",
            "truncate",
            "asfreq",
            "tz_convert",
            "tz_localize",
            "to_numpy",
            "to_list",
            "tolist",
            "to_dict",
            "to_frame",
            "to_records",
            "to_csv",
            "to_parquet",
            "to_json",
            "to_excel",
            "to_sql",
            "to_pickle",
            "to_string",
            "to_markdown",
            "to_html",
            "to_latex",
            "to_period",
            "to_timestamp",
            "plot",
            "hist",
            "boxplot",
            "iterrows",
            "itertuples",
            "get_group",
            "size",
            "nth",
            "first",
            "last",
            "ngroup",
            "cumcount",
            "factorize",
            "first_valid_index",
            "last_valid_index",
            "sub",
            "mul",
            "div",
            "truediv",
            "floordiv",
            "mod",
            "pow",
            "radd",
            "rsub",
            "rmul",
            "rdiv",
            "rtruediv",
            "lt",
            "gt",
            "le",
            "ge",
            "eq",
            "ne",
            "dot",
            "contains",
            "len",
            "cat",
            "get_dummies",
            "strftime",
            # numpy
            "reshape",
            "ravel",
            "flatten",
            "item",
            "tobytes",
            "argmax",
            "argmin",
            "argsort",
            "argpartition",
            "nonzero",
            "repeat",
            "swapaxes",
            "diagonal",
            "trace",
            "ptp",
            "conj",
            "compress",
            "choose",
            "searchsorted",
            "view",
            "tofile",
            # scikit-learn
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "score",
            "score_samples",
            "inverse_transform",
            "get_params",
            "get_feature_names_out",
            "get_support",
            "staged_predict",
            # pathlib, re, logging, display
            "exists",
            "is_file",
            "is_dir",
            "read_text",
            "read_bytes",
            "write_text",
            "write_bytes",
            "mkdir",
            "glob",
            "rglob",
            "iterdir",
            "joinpath",
            "with_suffix",
            "with_name",
            "with_stem",
            "relative_to",
            "resolve",
            "absolute",
            "stat",
            "match",
            "search",
            "findall",
            "finditer",
            "fullmatch",
            "subn",
            "group",
            "groups",
            "groupdict",
            "span",
            "debug",
            "warning",
            "error",
            "exception",
            "critical",
            "log",
            "show",
            "savefig",
            "isoformat",
            "total_seconds",
            "weekday",
            "date",
            "time",
            "timestamp",
            "clone",
            "detach",
            "numpy",
            "dim",
            "numel",
        }
    )
    - MUTATING_METHODS
)

# Read-only methods whose result may share the receiver's objects (`d.get(k)`, `a.reshape(n)`, `df.head()`,
# `t.detach()`): changing the result in place may change the receiver.
VIEW_METHODS = frozenset(
    {
        "get",
        "values",
        "items",
        "keys",
        "head",
        "tail",
        "view",
        "reshape",
        "ravel",
        "flatten",
        "transpose",
        "squeeze",
        "swapaxes",
        "diagonal",
        "to_numpy",
        "xs",
        "get_group",
        "__getitem__",
        "__iter__",
        "detach",
        "numpy",
    }
)

# Builtins whose result yields the items of their arguments (`for row in enumerate(rows)`).
_ITEM_PRESERVING = frozenset(
    {"enumerate", "zip", "reversed", "sorted", "list", "tuple", "set", "frozenset", "iter", "filter"}
)

# Library functions that change an argument in place, so a call is a new version of it (`random.shuffle(rows)`,
# `heapq.heappush(heap, x)`). Each changes its first argument; the value is that parameter's name (for a
# keyword call). They're found through the imports the analysis sees (`import numpy as np`, `from random
# import shuffle`). Any other function the notebook doesn't define is taken to only read its arguments
# (`print(x)`, `train_test_split(X, y)`, `pd.concat([a, b])`; `sklearn.utils.shuffle` returns copies).
ARGUMENT_CHANGING_FUNCTIONS: dict[str, str] = {
    "random.shuffle": "x",
    "numpy.random.shuffle": "x",  # shuffle a sequence/array in place
    "numpy.copyto": "dst",
    "numpy.put": "a",
    "numpy.place": "arr",
    "numpy.putmask": "a",  # write into an array
    "numpy.put_along_axis": "arr",
    "numpy.fill_diagonal": "a",
    "heapq.heappush": "heap",
    "heapq.heappop": "heap",
    "heapq.heapify": "x",
    "heapq.heapreplace": "heap",
    "heapq.heappushpop": "heap",  # keep a list a heap
    "bisect.insort": "a",
    "bisect.insort_left": "a",
    "bisect.insort_right": "a",  # insert into a sorted list
}
# Methods that change their first argument (besides, maybe, their receiver): `rng.shuffle(x)` of numpy's
# Generator and RandomState and of random.Random.
ARGUMENT_CHANGING_METHODS: dict[str, str] = {"shuffle": "x"}
# The last names of the dotted callees above: an `a.b(...)` call named otherwise needs no Call event.
_CHANGING_CALLEE_TAILS = frozenset(
    [name.rpartition(".")[2] for name in ARGUMENT_CHANGING_FUNCTIONS] + list(ARGUMENT_CHANGING_METHODS)
)

# Names a kernel (or Python) provides without any cell defining them.
KERNEL_NAMES = frozenset(dir(builtins)) | {
    "display",
    "get_ipython",
    "In",
    "Out",
    "exit",
    "quit",
    "_",
    "__",
    "___",
    "__name__",
    "__builtins__",
    "__doc__",
    "__file__",
}


# Events are made by the thousand: slotted ones are built twice as fast.
@dataclass(frozen=True, slots=True)
class _NameEvent:
    name: str
    line: int


# Read, Delete and Mutate share _NameEvent's generated methods (making a dataclass costs ~1 ms of import);
# its __eq__ compares the exact class, so Read("x", 1) != Mutate("x", 1), and the repr names the subclass.
class Read(_NameEvent):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Write:
    name: str
    line: int
    conditional: bool = False
    kind: str = "assign"
    deferred_reads: frozenset[str] = frozenset()
    deferred_writes: frozenset[str] = frozenset()
    aliases: frozenset[str] = frozenset()  # the name itself for `t += ...`: the old object may be changed
    # an import's qualified name (`numpy` for `import numpy as np`); a def's Signature if it may change a
    # parameter in place, else None
    binding: Any = None


class Delete(_NameEvent):
    __slots__ = ()


class Mutate(_NameEvent):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class StarImport:
    module: str
    line: int


# How a call's arguments are passed: (key, the variables the argument's value may be, be part of or hold).
# key: the position (an int from 0), -1 for a `*args` argument or one after it, the keyword, or None for `**kw`.
CallArguments = tuple[tuple[int | str | None, frozenset[str]], ...]


@dataclass(frozen=True, slots=True)
class Call:
    """`f(x, ...)` of a function the notebook may define or a library function that may change an argument:
    the compiler resolves `name` (dotted: `np.random.shuffle`, `?.shuffle` for a method of a value that is no
    name) where the call runs, and versions the arguments the function changes in place."""

    name: str
    line: int
    arguments: CallArguments


Event = Read | Write | Delete | Mutate | StarImport | Call


_Name, _Attribute, _Constant, _Load, _Store = ast.Name, ast.Attribute, ast.Constant, ast.Load, ast.Store
_Subscript, _BinOp, _Call, _Tuple, _List = ast.Subscript, ast.BinOp, ast.Call, ast.Tuple, ast.List
_NO_NAMES: frozenset[str] = frozenset()
_Starred = ast.Starred
_FUNCTION_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def alias_root(node: ast.AST, read_only: frozenset[str] = READ_ONLY_METHODS) -> ast.Name | None:
    """The variable whose object `node` may be, or be part of: `df` for `df["a"].loc[0]`, `d` for `d.get(k)[0]`,
    `model` for `model.fit(X)` (an unknown method may return its receiver); None for a fresh value (`len(x)`,
    `x + 1`, `x.copy()`, `f(x)`: what a function returns is taken as new)."""
    while True:
        node_type = type(node)
        if node_type is _Attribute or node_type is _Subscript:
            node = node.value
        elif node_type is _Name:
            return node
        elif node_type is _Call:
            func = node.func
            if type(func) is not _Attribute or (func.attr in read_only and func.attr not in VIEW_METHODS):
                return None
            node = func.value
        elif node_type is _Starred:
            node = node.value
        else:
            return None


# Expressions whose value holds, or is one of, the values of their parts.
_HOLDERS = frozenset({ast.Tuple, ast.List, ast.Set, ast.Dict, ast.IfExp, ast.BoolOp, ast.NamedExpr})
# Expressions whose value may be (part of) a variable's object; any other (`1`, `a + b`, `f"{a}"`, `[... for]`)
# is new. A call is new too unless it is a method's.
_MAY_ALIAS = _HOLDERS | {ast.Name, ast.Attribute, ast.Subscript, ast.Starred}


def value_roots(node: ast.AST, read_only: frozenset[str] = READ_ONLY_METHODS) -> list[str]:
    """The variables whose objects the value of `node` may be, be part of or hold (`[a, b]`, `a or b`)."""
    node_type = type(node)
    # the most frequent values first: calls, then chains; anything else but a holder is fresh
    if node_type is _Call:
        func = node.func
        if type(func) is not _Attribute or (func.attr in read_only and func.attr not in VIEW_METHODS):
            return []  # what a function or a read-only method returns is new
        root = alias_root(func.value, read_only)
    elif node_type is _Attribute or node_type is _Subscript or node_type is _Name or node_type is _Starred:
        root = alias_root(node, read_only)
    elif node_type in _HOLDERS:
        parts = (
            node.elts
            if node_type is _Tuple or node_type is _List or node_type is ast.Set
            else node.values
            if node_type is ast.Dict or node_type is ast.BoolOp
            else [node.body, node.orelse]
            if node_type is ast.IfExp
            else [node.value]
        )
        return [name for part in parts if part is not None for name in value_roots(part, read_only)]
    else:
        return []
    return [] if root is None else [root.id]


def may_alias(node: ast.AST, read_only: frozenset[str] = READ_ONLY_METHODS) -> bool:
    """Whether `value_roots(node)` may find a variable: a cheap test that skips the common fresh values."""
    node_type = type(node)
    if node_type is _Call:
        func = node.func
        return type(func) is _Attribute and (func.attr not in read_only or func.attr in VIEW_METHODS)
    return node_type in _MAY_ALIAS


def item_roots(node: ast.AST, read_only: frozenset[str] = READ_ONLY_METHODS) -> list[str]:
    """The variables whose objects the items of `for t in node` may be part of: `rows` for `rows`,
    `enumerate(rows)`, `sorted(rows)`, `rows.copy()` (a shallow copy shares its items), `d.items()`."""
    if type(node) is _Call:
        func = node.func
        if type(func) is _Name and func.id in _ITEM_PRESERVING:
            return [name for arg in node.args for name in item_roots(arg, read_only)]
        if type(func) is _Attribute:  # a method yields parts of its receiver (`df.iterrows()`, `d.values()`)
            return item_roots(func.value, read_only)
    return value_roots(node, read_only)


def _roots(names: list[str]) -> frozenset[str]:
    return frozenset(names) if names else _NO_NAMES


def _is_inplace_call(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "inplace" and not (isinstance(kw.value, ast.Constant) and kw.value.value in (False, None)):
            return True
    return False


def callee_name(func: ast.expr) -> str | None:
    """The dotted name of a call's function when the call may change an argument in place: a name that is
    no builtin (the notebook may define it, or import a library function), or `a.b.shuffle` and the like
    (`?.shuffle` where the chain doesn't start at a name); None for any other call."""
    if type(func) is _Name:
        return None if func.id in KERNEL_NAMES else func.id
    if type(func) is _Attribute and func.attr in _CHANGING_CALLEE_TAILS:
        parts = [func.attr]
        node = func.value
        while type(node) is _Attribute:
            parts.append(node.attr)
            node = node.value
        parts.append(node.id if type(node) is _Name else "?")
        return ".".join(reversed(parts))
    return None


def call_arguments(call: ast.Call, read_only: frozenset[str] = READ_ONLY_METHODS) -> CallArguments:
    """The arguments of a call whose values may be (part of) variables, keyed as in CallArguments."""
    found: list[tuple[int | str | None, frozenset[str]]] = []
    position = 0
    for arg in call.args:
        if type(arg) is _Starred:
            position = -1
            arg = arg.value
        if may_alias(arg, read_only):
            roots = value_roots(arg, read_only)
            if roots:
                found.append((position, frozenset(roots)))
        if position >= 0:
            position += 1
    for keyword in call.keywords:
        if may_alias(keyword.value, read_only):
            roots = value_roots(keyword.value, read_only)
            if roots:
                found.append((keyword.arg, frozenset(roots)))
    return tuple(found)


class Signature:
    """A function's parameters, those it changes in place, and the calls it passes parameters or globals on
    to (`calls`: (callee, CallArguments) whose names are the function's parameters or globals; whether the
    callee changes them is known only where the function is called)."""

    __slots__ = ("positional", "keyword_only", "varargs", "varkw", "changed", "calls", "names")

    def __init__(
        self,
        positional: tuple[str, ...],
        keyword_only: frozenset[str],
        varargs: str | None,
        varkw: str | None,
        changed: frozenset[str],
        calls: tuple[tuple[str, CallArguments], ...] = (),
    ) -> None:
        self.positional = positional
        self.keyword_only = keyword_only
        self.varargs = varargs
        self.varkw = varkw
        self.changed = changed
        self.calls = calls
        self.names = frozenset(positional) | keyword_only | {n for n in (varargs, varkw) if n}

    def changes(self, key: int | str | None, changed: set[str] | frozenset[str]) -> bool:
        """Whether the argument passed as `key` is one of the `changed` parameters (any it may be, for
        `*args` and `**kw`)."""
        if type(key) is int:
            if key >= 0:
                positional = self.positional
                return (positional[key] if key < len(positional) else self.varargs) in changed
            return self.varargs in changed or not changed.isdisjoint(self.positional)
        if key is None:
            return not changed.isdisjoint(self.names)
        return (key if key in self.positional or key in self.keyword_only else self.varkw) in changed


def _first_argument_changer(parameter: str) -> Signature:
    return Signature((parameter,), _NO_NAMES, None, None, frozenset((parameter,)))


# The Signatures of ARGUMENT_CHANGING_FUNCTIONS and ARGUMENT_CHANGING_METHODS.
LIBRARY_SIGNATURES = {name: _first_argument_changer(p) for name, p in ARGUMENT_CHANGING_FUNCTIONS.items()}
METHOD_SIGNATURES = {name: _first_argument_changer(p) for name, p in ARGUMENT_CHANGING_METHODS.items()}


# --- stepping through the tree --------------------------------------------------------------------------

# Fields that never hold a node we must visit: identifiers, constants, flags, and the ctx/operator singletons.
_SCALAR_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "name",
        "asname",
        "module",
        "level",
        "kind",
        "conversion",
        "is_async",
        "type_comment",
        "tag",
        "simple",
        "kwd_attrs",
        "rest",
    }
)
_SCALAR_FIELDS_OF: dict[type, frozenset[str]] = {
    ast.Constant: frozenset({"value"}),
    ast.MatchSingleton: frozenset({"value"}),
    ast.Global: frozenset({"names"}),
    ast.Nonlocal: frozenset({"names"}),
}
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    """The fields of a node type that hold child nodes, in `_fields` order (the order NodeVisitor visits)."""
    fields = _CHILD_FIELDS.get(node_type)
    if fields is None:
        skip = _SCALAR_FIELDS | _SCALAR_FIELDS_OF.get(node_type, frozenset())
        fields = _CHILD_FIELDS[node_type] = tuple(f for f in node_type._fields if f not in skip)  # type: ignore[attr-defined]
    return fields


def _children(node: ast.AST) -> list[ast.AST]:
    """A node's children in NodeVisitor's order: lists flattened, their None holes (`{**d}` keys) dropped."""
    found: list[ast.AST] = []
    add = found.append
    for field in _child_fields(type(node)):
        value = getattr(node, field, None)
        if type(value) is list:
            for item in value:
                if item is not None:
                    add(item)
        elif value is not None:
            add(value)
    return found


# --- scopes of functions, lambdas, comprehensions and classes ------------------------------------------


class ScopeSummary:
    """What a nested scope does to the globals when it runs. (A plain class: a dataclass costs ~1 ms of import.)"""

    __slots__ = ("reads", "global_writes", "changed_parameters", "signature")

    def __init__(
        self,
        reads: set[str],
        global_writes: set[str],
        changed_parameters: set[str] | frozenset[str] = _NO_NAMES,
        signature: Signature | None = None,
    ) -> None:
        self.reads = reads  # free names it reads (globals, or the enclosing scope's for nested scopes)
        self.global_writes = global_writes  # globals it rebinds (`global x; x = ...`) or mutates in place
        self.changed_parameters = changed_parameters  # its parameters whose objects it changes in place
        # a function's: set where it changes a parameter or passes one (or a global) on to a call that may;
        # a comprehension's: the calls it passes the enclosing scope's variables to (Signature.calls)
        self.signature = signature


def _target_names(target: ast.AST) -> list[str]:
    target_type = type(target)
    if target_type is _Name:
        return [target.id]
    if target_type is _Tuple or target_type is _List:
        return [n for elt in target.elts for n in _target_names(elt)]
    if target_type is ast.Starred:
        return _target_names(target.value)
    return []


# A walrus inside a comprehension binds its name in the enclosing scope, wherever it sits in the
# comprehension (its first iterable and nested lambdas included). Every walker appends the walrus targets it
# meets to one log shared by the whole cell; a comprehension is walked in one go, so its walrus names are the
# entries logged from the moment its first iterable is visited until its own scope is summarised.
WalrusLog = list[str]


class _ScopeCollector:
    """Collects bindings, loads, global declarations and in-place mutations of one function-like scope,
    folding in the free names of the scopes nested inside it. Its results are sets, so the nodes are taken
    from a stack in whatever order is fastest. Aliases too are order-blind (`bindings`: (targets, value,
    whether the targets take the value's items), wherever in the scope they're bound), which only errs
    towards a mutation; they're resolved only for a scope that changes something in place."""

    __slots__ = (
        "bound",
        "loads",
        "globals",
        "nonlocals",
        "mutated",
        "nested_writes",
        "bindings",
        "walrus_log",
        "read_only",
        "calls",
        "local_signatures",
    )

    def __init__(self, walrus_log: WalrusLog, read_only: frozenset[str]) -> None:
        self.bound: set[str] = set()
        self.loads: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.mutated: set[str] = set()
        self.nested_writes: set[str] = set()
        self.bindings: list[tuple[list[ast.expr], ast.expr, bool]] = []
        self.walrus_log = walrus_log
        self.read_only = read_only
        # calls that may change an argument: (callee, the Call node or, from a nested comprehension, its
        # CallArguments)
        self.calls: list[tuple[str, ast.Call | CallArguments]] = []
        self.local_signatures: dict[str, Signature] = {}  # of the functions defined in the scope

    def changed(self) -> set[str]:
        """The names the scope changes in place, and every variable one of them is (part of) the object of."""
        return self.reach(self.mutated)

    def reach(self, changed: set[str]) -> set[str]:
        """`changed` (updated) and every variable one of its names is (part of) the object of."""
        pending, read_only = self.bindings, self.read_only
        while changed and pending:  # until no binding of a changed name is left to follow
            waiting = []
            for binding in pending:
                targets, value, items = binding
                target = targets[0]
                if len(targets) == 1 and type(target) is _Name:
                    hit = target.id in changed
                else:
                    hit = not changed.isdisjoint([name for t in targets for name in _target_names(t)])
                if hit:
                    changed.update(item_roots(value, read_only) if items else value_roots(value, read_only))
                else:
                    waiting.append(binding)
            if len(waiting) == len(pending):
                break
            pending = waiting
        return changed

    def collect(self, nodes: Iterable[ast.AST]) -> None:
        stack = list(nodes)
        pop, push, extend = stack.pop, stack.append, stack.extend
        loads, bound, handlers, read_only = self.loads, self.bound, _SCOPE_HANDLERS, self.read_only
        while stack:
            node = pop()
            node_type = type(node)
            # the most frequent node types first, inline
            if node_type is _Name:
                (loads if type(node.ctx) is _Load else bound).add(node.id)
            elif node_type is _Attribute:
                push(node.value)
            elif node_type is _Constant:
                continue  # constants name nothing
            elif node_type is _Subscript:
                push(node.value)
                push(node.slice)
            elif node_type is _Call:
                func = node.func
                # a method not known to be read-only, or `inplace=True`, may change its receiver
                if type(func) is _Attribute and (
                    func.attr not in read_only or (node.keywords and _is_inplace_call(node))
                ):
                    receiver = alias_root(func.value, read_only)
                    if receiver is not None:
                        self.mutated.add(receiver.id)
                if (node.args or node.keywords) and (
                    (type(func) is _Name and func.id not in KERNEL_NAMES)
                    or (type(func) is _Attribute and func.attr in _CHANGING_CALLEE_TAILS)
                ):
                    self.calls.append((callee_name(func), node))  # type: ignore[arg-type]
                push(func)
                extend(node.args)
                for keyword in node.keywords:
                    push(keyword.value)
            elif node_type is _BinOp:
                push(node.left)
                push(node.right)
            elif node_type is _Tuple or node_type is _List:
                extend(node.elts)
            else:
                handler = handlers.get(node_type)
                if handler is None:
                    extend(_children(node))
                else:
                    handler(self, node, stack)

    def _global(self, node: ast.Global, stack: list[ast.AST]) -> None:
        self.globals.update(node.names)

    def _nonlocal(self, node: ast.Nonlocal, stack: list[ast.AST]) -> None:
        self.nonlocals.update(node.names)

    def _aug_assign(self, node: ast.AugAssign, stack: list[ast.AST]) -> None:
        if type(node.target) is _Name:
            self.loads.add(node.target.id)
            self.mutated.add(node.target.id)  # `t += [0]` changes a list in place (a local stays local)
        else:
            self._mutation_target(node.target)
        stack.extend(_children(node))

    def _mutation_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            root = alias_root(target, self.read_only)
            if root is not None:
                self.mutated.add(root.id)
                self.loads.add(root.id)

    def _assign(self, node: ast.Assign, stack: list[ast.AST]) -> None:
        names = False
        for target in node.targets:
            target_type = type(target)
            if target_type is _Name or target_type is _Tuple or target_type is _List:
                names = True
            else:
                self._mutation_target(target)
        if names and may_alias(node.value, self.read_only):
            self.bindings.append((node.targets, node.value, False))
        stack.extend(_children(node))

    def _ann_assign(self, node: ast.AnnAssign, stack: list[ast.AST]) -> None:
        if node.value is not None:
            self._mutation_target(node.target)
            if may_alias(node.value, self.read_only):
                self.bindings.append(([node.target], node.value, False))
        stack.extend(_children(node))

    def _delete(self, node: ast.Delete, stack: list[ast.AST]) -> None:
        for target in node.targets:
            self._mutation_target(target)
        stack.extend(_children(node))

    def _for(self, node: ast.For | ast.AsyncFor, stack: list[ast.AST]) -> None:
        it = node.iter
        if type(it) is not _Call or type(it.func) is not _Name or it.func.id in _ITEM_PRESERVING:  # not range(n)
            self.bindings.append(([node.target], it, True))
        stack.extend(_children(node))

    def _with_item(self, node: ast.withitem, stack: list[ast.AST]) -> None:
        if node.optional_vars is not None and may_alias(node.context_expr, self.read_only):
            self.bindings.append(([node.optional_vars], node.context_expr, False))
        stack.extend(_children(node))

    def _import(self, node: ast.Import, stack: list[ast.AST]) -> None:
        for alias in node.names:
            self.bound.add(alias.asname or alias.name.split(".")[0])

    def _import_from(self, node: ast.ImportFrom, stack: list[ast.AST]) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bound.add(alias.asname or alias.name)

    def _named_binding(self, node: ast.ExceptHandler | ast.MatchAs | ast.MatchStar, stack: list[ast.AST]) -> None:
        if node.name:
            self.bound.add(node.name)
        stack.extend(_children(node))

    def _match_mapping(self, node: ast.MatchMapping, stack: list[ast.AST]) -> None:
        if node.rest:
            self.bound.add(node.rest)
        stack.extend(_children(node))

    def _nested(self, summary: ScopeSummary) -> None:
        self.loads.update(summary.reads)
        self.nested_writes.update(summary.global_writes)

    def _function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, stack: list[ast.AST]) -> None:
        self.bound.add(node.name)
        stack.extend(_def_time_exprs(node))
        summary = function_scope(node, self.walrus_log, self.read_only)
        self._nested(summary)
        if summary.signature is not None:
            self.local_signatures[node.name] = summary.signature

    def _lambda(self, node: ast.Lambda, stack: list[ast.AST]) -> None:
        stack.extend(_def_time_exprs(node))
        self._nested(function_scope(node, self.walrus_log, self.read_only))

    def _class_def(self, node: ast.ClassDef, stack: list[ast.AST]) -> None:
        self.bound.add(node.name)
        immediate, deferred, _changing = class_scope(node, self.walrus_log, self.read_only)
        self._nested(immediate)
        self._nested(deferred)

    def _comprehension(self, node: ast.ListComp, stack: list[ast.AST]) -> None:
        mark = len(self.walrus_log)
        self.collect([node.generators[0].iter])  # evaluated in the enclosing scope
        summary, walrus = comprehension_scope(node, self.walrus_log, mark, self.read_only)
        self._nested(summary)
        if summary.signature is not None:
            self.calls.extend(summary.signature.calls)
        self.bound.update(walrus)

    def _named_expr(self, node: ast.NamedExpr, stack: list[ast.AST]) -> None:
        self.walrus_log.append(node.target.id)
        if may_alias(node.value, self.read_only):
            self.bindings.append(([node.target], node.value, False))
        stack.append(node.value)
        self.bound.add(node.target.id)


_SCOPE_HANDLERS: dict[type, Callable[[_ScopeCollector, Any, list[ast.AST]], None]] = {
    ast.Global: _ScopeCollector._global,
    ast.Nonlocal: _ScopeCollector._nonlocal,
    ast.AugAssign: _ScopeCollector._aug_assign,
    ast.Assign: _ScopeCollector._assign,
    ast.AnnAssign: _ScopeCollector._ann_assign,
    ast.Delete: _ScopeCollector._delete,
    ast.For: _ScopeCollector._for,
    ast.AsyncFor: _ScopeCollector._for,
    ast.withitem: _ScopeCollector._with_item,
    ast.Import: _ScopeCollector._import,
    ast.ImportFrom: _ScopeCollector._import_from,
    ast.ExceptHandler: _ScopeCollector._named_binding,
    ast.MatchAs: _ScopeCollector._named_binding,
    ast.MatchStar: _ScopeCollector._named_binding,
    ast.MatchMapping: _ScopeCollector._match_mapping,
    ast.FunctionDef: _ScopeCollector._function_def,
    ast.AsyncFunctionDef: _ScopeCollector._function_def,
    ast.Lambda: _ScopeCollector._lambda,
    ast.ClassDef: _ScopeCollector._class_def,
    ast.ListComp: _ScopeCollector._comprehension,
    ast.SetComp: _ScopeCollector._comprehension,
    ast.DictComp: _ScopeCollector._comprehension,
    ast.GeneratorExp: _ScopeCollector._comprehension,
    ast.NamedExpr: _ScopeCollector._named_expr,
}


def _def_time_exprs(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
    """Expressions evaluated when the `def` runs: decorators, defaults and annotations."""
    args = node.args
    exprs: list[ast.expr] = args.defaults + [d for d in args.kw_defaults if d is not None]
    if type(node) is not ast.Lambda:
        exprs = node.decorator_list + exprs  # type: ignore[union-attr]
        all_args = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        exprs += [a.annotation for a in all_args if a.annotation is not None]
        if node.returns is not None:  # type: ignore[union-attr]
            exprs.append(node.returns)  # type: ignore[union-attr]
    return exprs


def _parameters(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a)
    return names


def function_scope(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
    walrus_log: WalrusLog,
    read_only: frozenset[str] = READ_ONLY_METHODS,
) -> ScopeSummary:
    """Free names a function or lambda reads when called, and the globals it rebinds or mutates."""
    collector = _ScopeCollector(walrus_log, read_only)
    collector.collect(node.body if isinstance(node.body, list) else [node.body])
    parameters = _parameters(node.args)
    local = (collector.bound | parameters) - collector.globals - collector.nonlocals
    reads = collector.loads - local
    calls = _passed_on(collector, local - parameters) if collector.calls else ()
    changed = collector.changed()
    writes = (collector.bound & collector.globals) | (changed - local) | (collector.nested_writes - local)
    changed_parameters = (changed | collector.nested_writes) & parameters
    if (changed_parameters or calls) and type(node) is not ast.Lambda and not parameters.isdisjoint(collector.bound):
        # `df = df.copy()` before anything else uses df: what the body changes is its own copy. A parameter
        # rebound otherwise is taken as changed: it only errs towards a mutation
        fresh = {name for name in parameters & collector.bound if _rebound_first(node.body, name, read_only)}
        if fresh:
            changed_parameters -= fresh
            calls = tuple(
                (callee, kept)
                for callee, arguments in calls
                if (kept := tuple((key, names - fresh) for key, names in arguments if names - fresh))
            )
    signature = None
    if changed_parameters or calls:
        args = node.args
        signature = Signature(
            tuple(a.arg for a in args.posonlyargs + args.args),
            frozenset(a.arg for a in args.kwonlyargs),
            args.vararg and args.vararg.arg,
            args.kwarg and args.kwarg.arg,
            frozenset(changed_parameters),
            calls,
        )
    return ScopeSummary(reads, writes, changed_parameters, signature)


def _rebound_first(body: list[ast.stmt], name: str, read_only: frozenset[str]) -> bool:
    """Whether the first statement of `body` that uses `name` rebinds it to a fresh value (`df = df.copy()`)
    that neither changes it nor passes it to a call that may."""
    for stmt in body:
        if type(stmt) is ast.Assign and any(type(t) is _Name and t.id == name for t in stmt.targets):
            value = stmt.value
            if name in value_roots(value, read_only):
                return False
            probe = _ScopeCollector([], read_only)
            probe.collect([value])
            return name not in probe.changed() and not any(
                name in names
                for _callee, call in probe.calls
                if type(call) is _Call
                for _key, names in call_arguments(call, read_only)
            )
        if any(type(node) is _Name and node.id == name for node in ast.walk(stmt)):
            return False
    return False


def _passed_on(collector: _ScopeCollector, local: set[str]) -> tuple[tuple[str, CallArguments], ...]:
    """The scope's calls that may change an argument, with each argument's names taken to the variables they
    may be (part of) and those that outlive the scope (not in `local`). A call of a function defined in the
    scope is resolved here: what it changes joins `collector.mutated`."""
    found = []
    for callee, call in collector.calls:
        arguments = call_arguments(call, collector.read_only) if type(call) is _Call else call
        if not arguments:
            continue
        root = callee.partition(".")[0]
        if root in local:  # a local function (resolved now) or value (unknown unless a `.shuffle`)
            signature = collector.local_signatures.get(callee) if root == callee else None
            if signature is None and root != callee:
                signature = METHOD_SIGNATURES.get(callee.rpartition(".")[2])
            if signature is not None:
                for key, names in arguments:  # type: ignore[union-attr]
                    if signature.changes(key, signature.changed):
                        collector.mutated.update(names)
            continue
        passed = []
        for key, names in arguments:  # type: ignore[union-attr]
            reached = collector.reach(set(names)) - local
            if reached:
                passed.append((key, frozenset(reached)))
        if passed:
            found.append((callee, tuple(passed)))
    return tuple(found)


def comprehension_scope(
    node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
    walrus_log: WalrusLog,
    mark: int,
    read_only: frozenset[str] = READ_ONLY_METHODS,
) -> tuple[ScopeSummary, set[str]]:
    """Free names of a comprehension (minus its first iterable, which the caller has just walked, logging
    walruses from `mark` on) and the names its walruses bind outside."""
    collector = _ScopeCollector(walrus_log, read_only)
    parts: list[ast.AST] = []
    for i, gen in enumerate(node.generators):
        parts.append(gen.target)
        if i:
            parts.append(gen.iter)
        parts.extend(gen.ifs)
        collector.bindings.append(([gen.target], gen.iter, True))
    if type(node) is ast.DictComp:
        parts += [node.key, node.value]
    else:
        parts.append(node.elt)  # type: ignore[union-attr]
    collector.collect(parts)
    targets = {n for gen in node.generators for n in _target_names(gen.target)}
    walrus = set(walrus_log[mark:])
    reads = collector.loads - targets - walrus  # a walrus name is the comprehension's own binding
    calls = _passed_on(collector, targets | collector.bound - walrus) if collector.calls else ()
    writes = (collector.changed() - targets) | collector.nested_writes
    signature = Signature((), _NO_NAMES, None, None, _NO_NAMES, calls) if calls else None
    return ScopeSummary(reads, writes, _NO_NAMES, signature), walrus


def class_scope(
    node: ast.ClassDef, walrus_log: WalrusLog, read_only: frozenset[str] = READ_ONLY_METHODS
) -> tuple[ScopeSummary, ScopeSummary, set[str]]:
    """(what the class body reads while the class is created, what its methods read when called, the methods
    that change their own object: `self.items.append(v)`, `self.n = 0`)."""
    immediate = _ScopeCollector(walrus_log, read_only)
    deferred = ScopeSummary(set(), set())
    changing: set[str] = set()
    immediate.collect(node.bases + [k.value for k in node.keywords] + node.decorator_list)
    for stmt in node.body:
        if isinstance(stmt, _FUNCTION_DEFS):
            immediate.collect(_def_time_exprs(stmt))
            method = function_scope(stmt, walrus_log, read_only)
            deferred.reads |= method.reads
            deferred.global_writes |= method.global_writes
            if method.changed_parameters and _changes_own_object(stmt, method):
                changing.add(stmt.name)
            immediate.bound.add(stmt.name)
        else:
            immediate.collect([stmt])
    reads = immediate.loads - immediate.bound
    return ScopeSummary(reads, immediate.changed() - immediate.bound), deferred, changing


def _changes_own_object(method: ast.FunctionDef | ast.AsyncFunctionDef, summary: ScopeSummary) -> bool:
    """Whether a method changes its `self` (or a class method its `cls`); a static method has none."""
    args = method.args.posonlyargs + method.args.args
    return (
        bool(args)
        and args[0].arg in summary.changed_parameters
        and not any(type(d) is _Name and d.id == "staticmethod" for d in method.decorator_list)
    )


# --- module level: ordered events ---------------------------------------------------------------------


class _ModuleEvents:
    """Walks a cell's module-level code in evaluation order (NodeVisitor's order), recording events."""

    __slots__ = ("events", "conditional", "walrus_log", "read_only", "changing")

    def __init__(self, read_only: frozenset[str], changing: set[str]) -> None:
        self.events: list[Event] = []
        self.conditional = 0
        self.walrus_log: WalrusLog = []
        self.read_only = read_only
        self.changing = changing  # methods of the cell's classes that change their own object

    def visit(self, node: ast.AST) -> None:
        node_type = type(node)
        # the most frequent node types first, inline
        if node_type is _Name:
            ctx = type(node.ctx)
            if ctx is _Load:
                self.events.append(Read(node.id, node.lineno))
            elif ctx is _Store:
                self._write(node.id, node.lineno)
            else:
                self.events.append(Delete(node.id, node.lineno))
        elif node_type is _Attribute:
            self.visit(node.value)
        elif node_type is _Constant:
            return  # constants name nothing
        elif node_type is _Subscript:
            self.visit(node.value)
            self.visit(node.slice)
        elif node_type is _Call:
            visit = self.visit
            visit(node.func)
            for arg in node.args:
                if type(arg) is not _Constant:
                    visit(arg)
            for keyword in node.keywords:
                if type(keyword.value) is not _Constant:
                    visit(keyword.value)
            func = node.func
            # a method not known to be read-only, or `inplace=True`, may change its receiver
            if type(func) is _Attribute and (
                func.attr not in self.read_only or (node.keywords and _is_inplace_call(node))
            ):
                receiver = alias_root(func.value, self.read_only)
                if receiver is not None:
                    self.events.append(Mutate(receiver.id, node.lineno))
            # a function the notebook defines, or a library one, may change an argument: the compiler resolves it
            if (node.args or node.keywords) and (
                (type(func) is _Name and func.id not in KERNEL_NAMES)
                or (type(func) is _Attribute and func.attr in _CHANGING_CALLEE_TAILS)
            ):
                arguments = call_arguments(node, self.read_only)
                if arguments:
                    self.events.append(Call(callee_name(func), node.lineno, arguments))  # type: ignore[arg-type]
        elif node_type is _BinOp:
            self.visit(node.left)
            self.visit(node.right)
        else:
            handler = _EVENT_HANDLERS.get(node_type)
            if handler is None:
                for child in _children(node):
                    self.visit(child)
            else:
                handler(self, node)

    def _visit_all(self, nodes: Iterable[ast.AST]) -> None:
        visit = self.visit
        for node in nodes:
            visit(node)

    def _write(
        self,
        name: str,
        line: int,
        kind: str = "assign",
        summary: ScopeSummary | None = None,
        aliases: frozenset[str] = _NO_NAMES,
        binding: str | None = None,
    ) -> None:
        if summary is None:
            self.events.append(Write(name, line, self.conditional > 0, kind, _NO_NAMES, _NO_NAMES, aliases, binding))
        else:
            self.events.append(
                Write(
                    name,
                    line,
                    self.conditional > 0,
                    kind,
                    frozenset(summary.reads),
                    frozenset(summary.global_writes),
                    aliases,
                    summary.signature,
                )
            )

    def _summary(self, summary: ScopeSummary, line: int) -> None:
        """A nested scope that runs right now (lambda passed on, comprehension, class body)."""
        for name in sorted(summary.reads):
            self.events.append(Read(name, line))
        for name in sorted(summary.global_writes):
            self.events.append(Mutate(name, line))

    def _target(self, target: ast.AST, aliases: frozenset[str] = _NO_NAMES) -> None:
        """Bind a target; `aliases`: the variables whose object the bound value may be (part of)."""
        target_type = type(target)
        if target_type is _Name:  # the most frequent: _write inline
            self.events.append(
                Write(target.id, target.lineno, self.conditional > 0, "assign", _NO_NAMES, _NO_NAMES, aliases)
            )
        elif target_type is _Tuple or target_type is _List:
            for elt in target.elts:
                self._target(elt, aliases)  # an unpacked item may be any part of the value
        elif target_type is _Starred:
            self._target(target.value, aliases)
        elif target_type is _Attribute or target_type is _Subscript:
            self.visit(target)  # reads the chain (root, indices)
            root = alias_root(target, self.read_only)
            if root is not None:
                self.events.append(Mutate(root.id, target.lineno))

    # statements
    def _assign(self, node: ast.Assign) -> None:
        value = node.value
        value_type = type(value)
        if value_type is ast.Lambda and all(type(t) is _Name for t in node.targets):
            # `f = lambda ...` is a function definition: its body runs when called, against the caller's globals
            self._visit_all(_def_time_exprs(value))
            summary = function_scope(value, self.walrus_log, self.read_only)
            for target in node.targets:
                self._write(target.id, target.lineno, "def", summary)  # type: ignore[attr-defined]
            return
        if value_type is _Name and all(type(t) is _Name for t in node.targets):
            # `g = f`: if f is a function or class, g runs f's body when called; the compiler resolves it
            self.visit(value)
            for target in node.targets:
                self._write(
                    target.id,
                    target.lineno,
                    "alias",  # type: ignore[attr-defined]
                    ScopeSummary({value.id}, set()),
                    frozenset((value.id,)),
                )
            return
        self.visit(value)
        aliases = _NO_NAMES
        if may_alias(value, self.read_only):
            roots = value_roots(value, self.read_only)
            if roots:
                aliases = frozenset(roots)
        for target in node.targets:
            self._target(target, aliases)

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target, _roots(value_roots(node.value, self.read_only)))

    def _aug_assign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.events.append(Read(node.target.id, node.lineno))
            self.visit(node.value)
            # `t += [0]` may change t's object in place: the compiler versions what t is part of
            self._write(node.target.id, node.lineno, aliases=frozenset((node.target.id,)))
        else:
            self.visit(node.value)
            self._target(node.target)

    def _delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name | ast.Tuple | ast.List):
                for name in _target_names(target):
                    self.events.append(Delete(name, node.lineno))
            else:
                self._target(target)

    def _import(self, node: ast.Import) -> None:
        for alias in node.names:  # `import a.b` binds a, `import a.b as c` binds a.b
            if alias.asname:
                self._write(alias.asname, node.lineno, "import", binding=alias.name)
            else:
                top = alias.name.split(".")[0]
                self._write(top, node.lineno, "import", binding=top)

    def _import_from(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.events.append(StarImport(node.module or "", node.lineno))
            else:
                self._write(
                    alias.asname or alias.name,
                    node.lineno,
                    "import",
                    binding=f"{node.module}.{alias.name}" if node.module and not node.level else None,
                )

    def _function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(_def_time_exprs(node))
        self._write(node.name, node.lineno, "def", function_scope(node, self.walrus_log, self.read_only))

    def _class_def(self, node: ast.ClassDef) -> None:
        immediate, deferred, changing = class_scope(node, self.walrus_log, self.read_only)
        self.changing.update(changing)
        self._summary(immediate, node.lineno)
        self._write(node.name, node.lineno, "def", deferred)

    def _lambda(self, node: ast.Lambda) -> None:
        self._visit_all(_def_time_exprs(node))
        # a lambda in an expression is usually called right away (apply, sorted key): read what it reads now
        self._summary(function_scope(node, self.walrus_log, self.read_only), node.lineno)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        mark = len(self.walrus_log)
        self.visit(node.generators[0].iter)
        summary, walrus = comprehension_scope(node, self.walrus_log, mark, self.read_only)
        self._summary(summary, node.lineno)
        if summary.signature is not None:  # `[f(row) for row in rows]`: f may change rows' items
            for callee, arguments in summary.signature.calls:
                self.events.append(Call(callee, node.lineno, arguments))
        for name in sorted(walrus):
            self._write(name, node.lineno)

    def _named_expr(self, node: ast.NamedExpr) -> None:
        self.walrus_log.append(node.target.id)
        self.visit(node.value)
        self._write(node.target.id, node.lineno, aliases=_roots(value_roots(node.value, self.read_only)))

    def _conditional_block(self, before: list[ast.expr], blocks: list[ast.stmt]) -> None:
        self._visit_all(before)
        self.conditional += 1
        self._visit_all(blocks)
        self.conditional -= 1

    def _if_or_while(self, node: ast.If | ast.While) -> None:
        self._conditional_block([node.test], node.body + node.orelse)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.conditional += 1
        self._target(node.target, _roots(item_roots(node.iter, self.read_only)))
        self._visit_all(node.body + node.orelse)
        self.conditional -= 1

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:  # `with X as t`: __enter__ mostly returns X itself
                self._target(item.optional_vars, _roots(value_roots(item.context_expr, self.read_only)))
        self._visit_all(node.body)

    def _try(self, node: ast.Try | ast.TryStar) -> None:
        self.conditional += 1
        self._visit_all(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self._write(handler.name, handler.lineno)
            self._visit_all(handler.body)
            if handler.name:  # Python unbinds `e` of `except E as e` when the handler ends
                self.events.append(Delete(handler.name, handler.lineno))
        self._visit_all(node.orelse)
        self.conditional -= 1
        self._visit_all(node.finalbody)

    def _match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        parts = _roots(value_roots(node.subject, self.read_only))  # a capture is (part of) the subject
        self.conditional += 1
        for case in node.cases:
            for sub in ast.walk(case.pattern):
                if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                    self._write(sub.name, case.pattern.lineno, aliases=parts)
                elif isinstance(sub, ast.MatchMapping) and sub.rest:
                    self._write(sub.rest, case.pattern.lineno)
                elif isinstance(sub, ast.MatchValue | ast.MatchClass):
                    self.visit(sub.value if isinstance(sub, ast.MatchValue) else sub.cls)
            if case.guard is not None:
                self.visit(case.guard)
            self._visit_all(case.body)
        self.conditional -= 1


_EVENT_HANDLERS: dict[type, Callable[[_ModuleEvents, Any], None]] = {
    ast.Assign: _ModuleEvents._assign,
    ast.AnnAssign: _ModuleEvents._ann_assign,
    ast.AugAssign: _ModuleEvents._aug_assign,
    ast.Delete: _ModuleEvents._delete,
    ast.Import: _ModuleEvents._import,
    ast.ImportFrom: _ModuleEvents._import_from,
    ast.FunctionDef: _ModuleEvents._function_def,
    ast.AsyncFunctionDef: _ModuleEvents._function_def,
    ast.ClassDef: _ModuleEvents._class_def,
    ast.Lambda: _ModuleEvents._lambda,
    ast.ListComp: _ModuleEvents._comprehension,
    ast.SetComp: _ModuleEvents._comprehension,
    ast.DictComp: _ModuleEvents._comprehension,
    ast.GeneratorExp: _ModuleEvents._comprehension,
    ast.NamedExpr: _ModuleEvents._named_expr,
    ast.If: _ModuleEvents._if_or_while,
    ast.While: _ModuleEvents._if_or_while,
    ast.For: _ModuleEvents._for,
    ast.AsyncFor: _ModuleEvents._for,
    ast.With: _ModuleEvents._with,
    ast.AsyncWith: _ModuleEvents._with,
    ast.Try: _ModuleEvents._try,
    ast.TryStar: _ModuleEvents._try,
    ast.Match: _ModuleEvents._match,
}


def cell_events(
    tree: ast.Module, read_only: frozenset[str] = READ_ONLY_METHODS, changing: set[str] | None = None
) -> list[Event]:
    """The name events of a parsed cell, in the order a run performs them. `read_only`: the methods taken not
    to change their receiver; `changing`, if given, gets the names of the methods the cell's classes define
    that change their own object (the compiler takes them out of `read_only` for the whole notebook)."""
    visitor = _ModuleEvents(read_only, set() if changing is None else changing)
    visitor._visit_all(tree.body)
    return visitor.events
