"""Content fingerprints of notebook values, the same in a Jupyter kernel and in a process that loads them again.

A fingerprint is a flat dict `{part: [digest, preview]}`: the whole value (part `<value>`) and its parts down to
two levels (`[key]` of a dict or DataFrame column, `[i]` of a list, `.attr` of an object), so that a value with
one nondeterministic part (a timing inside `cv_results_`, a widget's model id) is still compared on the rest.
Digests hash the content, never the identity or memory layout: a view and its copy, an object and its pickled
copy, a DataFrame and its Parquet round trip fingerprint the same.

This module is also loaded by path into the reference kernels (see `probe`), so it imports only the standard
library at the top and the libraries of the values it meets when it meets them.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from typing import Any

PART_DEPTH = 2  # parts are fingerprinted two levels below the value
MAX_CHILDREN = 64  # a container with more children is one part
MAX_NODES = 100_000  # past this many objects a value is too big to fingerprint: not compared
# attributes that differ between an object and its pickled copy without being content
IGNORED_ATTRIBUTES = {"_sklearn_version", "__weakref__"}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# objects of the kernel's machinery (a widget's comm, the shell, sockets, loops, locks, loggers) are not compared:
# they are no notebook's content, and walking them would visit the whole kernel
INFRASTRUCTURE_PACKAGES = {
    "ipykernel",
    "zmq",
    "jupyter_client",
    "comm",
    "tornado",
    "asyncio",
    "threading",
    "_thread",
    "socket",
    "selectors",
    "sqlite3",
    "concurrent",
    "multiprocessing",
    "logging",
    "queue",
    "subprocess",
}
WHOLE = "<value>"


class TooBig(Exception):
    """The value has more than MAX_NODES objects."""


def fingerprint(value: Any) -> dict[str, list[str]] | None:
    """{part: [digest, preview]} for the value and its parts; None when it is too big to fingerprint."""
    parts: dict[str, list[str]] = {}
    budget = [MAX_NODES]  # one budget for the value and all its parts: parts share objects (a widget's kernel)
    try:
        _collect(value, WHOLE, 0, parts, budget)
    except TooBig:
        return None
    return parts


def _collect(value: Any, path: str, depth: int, parts: dict[str, list[str]], budget: list[int]) -> None:
    parts[path] = [digest(value, budget), preview(value)]
    if depth >= PART_DEPTH:
        return
    children = _children(value)
    if len(children) > MAX_CHILDREN:
        return
    prefix = "" if path == WHOLE else path
    for label, child in children:
        _collect(child, prefix + label, depth + 1, parts, budget)


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(f"[{key!r}]", item) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if _is_instance_of(value, "pandas", "DataFrame"):
        return [(f"[{column!r}]", value.iloc[:, i]) for i, column in enumerate(value.columns)]
    if (
        isinstance(value, type | types.ModuleType | types.FunctionType)
        or _is_leaf_library_value(value)
        or _is_infrastructure(value)
    ):
        return []
    state = _instance_state(value)
    return [(f".{name}", item) for name, item in state.items()] if state is not None else []


def _is_instance_of(value: Any, package: str, name: str) -> bool:
    return any(c.__name__ == name and c.__module__.split(".")[0] == package for c in type(value).__mro__)


def _is_infrastructure(value: Any) -> bool:
    package = type(value).__module__.split(".")[0]
    return package in INFRASTRUCTURE_PACKAGES or (
        package == "IPython" and _is_instance_of(value, "traitlets", "Configurable")
    )


def _is_leaf_library_value(value: Any) -> bool:
    return (
        _is_instance_of(value, "numpy", "ndarray")
        or _is_instance_of(value, "numpy", "generic")
        or _is_instance_of(value, "pandas", "Series")
        or _is_instance_of(value, "pandas", "Index")
        or _is_instance_of(value, "matplotlib", "Artist")
    )


def _instance_state(value: Any) -> dict[str, Any] | None:
    """What pickling the object saves, as a sorted dict without the entries that aren't content: its own
    `__getstate__` when its class defines one (numpy's Polynomial saves `window`, which a loaded copy then holds
    in its __dict__), else its __dict__ and __slots__."""
    getstate = getattr(type(value), "__getstate__", None)
    if getstate is not None and getstate is not getattr(object, "__getstate__", None):
        try:
            saved = value.__getstate__()
        except Exception:  # noqa: BLE001 - an object that refuses to be pickled: fall back to its attributes
            saved = None
        if isinstance(saved, dict):
            return {k: saved[k] for k in sorted(saved, key=str) if k not in IGNORED_ATTRIBUTES}
        if saved is not None:
            return {"__getstate__()": saved}
    state: dict[str, Any] = {}
    found = False
    try:
        attributes = vars(value)
    except TypeError:
        attributes = None
    if isinstance(attributes, dict):
        found = True
        state.update(attributes)
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in [slots] if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                found = True
                state[slot] = getattr(value, slot)
    if not found:
        return None
    return {k: state[k] for k in sorted(state, key=str) if k not in IGNORED_ATTRIBUTES}


def preview(value: Any) -> str:
    """A short, address-free description of the value for failure messages."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and not isinstance(value, type):
        return f"{kind} shape={shape}"
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ is the notebook's business
        text = f"<{kind}: repr failed: {type(exc).__name__}>"
    text = _ADDRESS.sub("", " ".join(text.split()))
    return text if len(text) <= 80 else text[:77] + "..."


# -- digests ------------------------------------------------------------------------------------------------
def digest(value: Any, budget: list[int] | None = None) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    _feed(hasher, value, [], [MAX_NODES] if budget is None else budget)
    return hasher.hexdigest()


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _write(hasher: Any, *items: object) -> None:
    for item in items:
        data = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)


def _feed(hasher: Any, value: Any, stack: list[int], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise TooBig
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes, range, slice):
        _write(hasher, kind.__name__, repr(value))  # repr: NaN is 'nan', -0.0 is '-0.0'
        return
    if id(value) in stack:  # a cycle: say how far up it points, never recurse
        _write(hasher, "cycle", len(stack) - stack.index(id(value)))
        return
    stack.append(id(value))
    try:
        _feed_object(hasher, value, kind, stack, budget)
    finally:
        stack.pop()


def _feed_object(hasher: Any, value: Any, kind: type, stack: list[int], budget: list[int]) -> None:
    if kind in (list, tuple) or isinstance(value, list | tuple):
        _write(hasher, _qualified(kind), len(value))
        for item in value:
            _feed(hasher, item, stack, budget)
    elif isinstance(value, dict):
        _write(hasher, _qualified(kind), len(value))
        for key, item in value.items():
            _feed(hasher, key, stack, budget)
            _feed(hasher, item, stack, budget)
    elif isinstance(value, set | frozenset):  # element order depends on PYTHONHASHSEED: sort the digests
        _write(hasher, _qualified(kind), *sorted(digest_part(item, stack, budget) for item in value))
    elif _feed_library_value(hasher, value, stack, budget):
        pass
    elif "matplotlib" in sys.modules and _is_instance_of(value, "matplotlib", "Artist"):
        _feed_artist(hasher, value, stack, budget)
    elif isinstance(value, types.ModuleType):
        _write(hasher, "module", value.__name__)
    elif isinstance(value, types.FunctionType):
        _feed_function(hasher, value, stack, budget)
    elif isinstance(value, types.MethodType):
        _write(hasher, "method")
        _feed(hasher, value.__func__, stack, budget)
        _feed(hasher, value.__self__, stack, budget)
    elif isinstance(value, type):
        _feed_class(hasher, value, stack, budget)
    elif isinstance(value, types.CodeType):
        _feed_code(hasher, value, stack, budget)
    elif _is_infrastructure(value):  # not even its type: a widget's comm is a kernel's Comm or a DummyComm
        _write(hasher, "infrastructure")
    else:
        _feed_instance(hasher, value, kind, stack, budget)


def digest_part(value: Any, stack: list[int], budget: list[int]) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    _feed(hasher, value, stack, budget)
    return hasher.hexdigest()


def _feed_library_value(hasher: Any, value: Any, stack: list[int], budget: list[int]) -> bool:
    """numpy and pandas values by content; only when the library is loaded (a value of it can't exist before)."""
    return ("numpy" in sys.modules and _feed_numpy(hasher, value, stack, budget)) or (
        "pandas" in sys.modules and _feed_pandas(hasher, value, stack, budget)
    )


def _feed_numpy(hasher: Any, value: Any, stack: list[int], budget: list[int]) -> bool:
    import numpy as np

    if isinstance(value, np.ndarray):
        _write(hasher, "ndarray", _qualified(type(value)), value.dtype.str, value.shape)
        if value.dtype.hasobject:
            for item in value.ravel(order="C"):
                _feed(hasher, item, stack, budget)
        else:  # the bytes in C order: a view, a Fortran-ordered copy and a loaded .npy are alike
            _write(hasher, np.ascontiguousarray(value).tobytes())
        return True
    if isinstance(value, np.generic):
        content = repr(value.item()) if value.dtype.hasobject else value.tobytes()
        _write(hasher, "numpy scalar", value.dtype.str, content)
        return True
    if isinstance(value, np.dtype):
        _write(hasher, "dtype", value.str, value.descr if value.fields else "")
        return True
    return False


def _feed_pandas(hasher: Any, value: Any, stack: list[int], budget: list[int]) -> bool:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        _write(hasher, "DataFrame", value.shape)
        _feed(hasher, list(value.columns), stack, budget)
        _feed(hasher, [str(dtype) for dtype in value.dtypes], stack, budget)
        _feed_index(hasher, value.index, stack, budget)
        for i in range(value.shape[1]):
            _feed(hasher, value.iloc[:, i].to_numpy(), stack, budget)
        return True
    if isinstance(value, pd.Series):
        _write(hasher, "Series", str(value.dtype))
        _feed(hasher, value.name, stack, budget)
        _feed_index(hasher, value.index, stack, budget)
        _feed(hasher, value.to_numpy(), stack, budget)
        return True
    if isinstance(value, pd.Index):
        _feed_index(hasher, value, stack, budget)
        return True
    return False


def _feed_index(hasher: Any, index: Any, stack: list[int], budget: list[int]) -> None:
    # the dtype and values, not the class: a RangeIndex and the Index[int64] Parquet may give back are alike
    _write(hasher, "Index", str(index.dtype))
    _feed(hasher, list(index.names), stack, budget)
    _feed(hasher, index.to_numpy(), stack, budget)


def _feed_artist(hasher: Any, artist: Any, stack: list[int], budget: list[int]) -> None:
    """A matplotlib figure by what it draws (its internals hold canvases, callbacks and ids); an axes by its
    figure's drawing; a line by its data and style; any other artist by its type and label."""
    import io

    _write(hasher, "artist", _qualified(type(artist)))
    figure = artist if _is_instance_of(artist, "matplotlib", "Figure") else None
    if figure is None and _is_instance_of(artist, "matplotlib", "Axes"):
        figure = artist.get_figure()
    if figure is not None:
        buffer = io.BytesIO()
        # explicit save settings: a kernel's inline backend changes the savefig rcParams
        figure.savefig(buffer, format="rgba", dpi=40, facecolor="white", edgecolor="white", bbox_inches=None)
        _write(hasher, figure.get_size_inches().tolist(), buffer.getvalue())
        return
    _feed(hasher, artist.get_label(), stack, budget)
    if hasattr(artist, "get_xydata"):
        _feed(hasher, artist.get_xydata(), stack, budget)
        _write(hasher, artist.get_color(), artist.get_linewidth(), artist.get_linestyle(), artist.get_marker())


def _feed_function(hasher: Any, function: types.FunctionType, stack: list[int], budget: list[int]) -> None:
    _write(hasher, "function", function.__module__, function.__qualname__)
    if function.__module__ == "__main__":  # a notebook's function: its code and defaults are its content
        _feed_code(hasher, function.__code__, stack, budget)
        _feed(hasher, function.__defaults__, stack, budget)
        _feed(hasher, function.__kwdefaults__, stack, budget)


def _feed_code(hasher: Any, code: types.CodeType, stack: list[int], budget: list[int]) -> None:
    # not the file name or line numbers: a kernel and nbmlops compile the same cell under different names
    _write(hasher, "code", code.co_name, code.co_code, code.co_names, code.co_varnames)
    for const in code.co_consts:
        _feed(hasher, const, stack, budget)


def _feed_class(hasher: Any, cls: type, stack: list[int], budget: list[int]) -> None:
    _write(hasher, "class", cls.__module__, cls.__qualname__)
    if cls.__module__ != "__main__":
        return
    for name in sorted(vars(cls)):
        # __slotnames__: copyreg caches it on the class when an instance is pickled
        if name in ("__dict__", "__weakref__", "__module__", "__qualname__", "__slotnames__") or name.startswith(
            "_abc_"
        ):
            continue
        member = vars(cls)[name]
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        elif isinstance(member, property):
            member = (member.fget, member.fset, member.fdel)
        _feed(hasher, name, stack, budget)
        _feed(hasher, member, stack, budget)


def _feed_instance(hasher: Any, value: Any, kind: type, stack: list[int], budget: list[int]) -> None:
    _write(hasher, "object", _qualified(kind))
    state = _instance_state(value)
    if state is not None:
        for name, item in state.items():
            _feed(hasher, name, stack, budget)
            _feed(hasher, item, stack, budget)
        return
    try:  # a C type without attributes (datetime, Decimal, re.Pattern): what pickling it would save
        reduced = value.__reduce_ex__(4)
    except Exception:  # noqa: BLE001 - unpicklable (a lock, a generator): only its type is compared
        _write(hasher, "opaque")
        return
    if isinstance(reduced, str):
        _write(hasher, "global", reduced)
        return
    function, arguments, *rest = reduced
    _write(hasher, "reduce", getattr(function, "__qualname__", repr(function)))
    _feed(hasher, arguments, stack, budget)
    if rest:
        _feed(hasher, rest[0], stack, budget)
    for extra in rest[1:3]:  # list items and dict items, as iterators
        if extra is not None:
            _feed(hasher, list(extra), stack, budget)


# -- the reference kernels' probe ------------------------------------------------------------------------------
def probe(shell: Any, plan_path: str) -> None:
    """Register, in a reference kernel, a post_run_cell hook that fingerprints the planned variables after the
    planned cells. The plan (JSON): {"cells": [[index, source], ...] in run order, "wanted": {index: [names]},
    "out": path}. Cells are matched by source, in order, so the hook needs no help from the notebook."""
    with open(plan_path) as handle:
        plan = json.load(handle)
    cells = [(int(index), source) for index, source in plan["cells"]]
    wanted = {int(index): names for index, names in plan["wanted"].items()}
    position = [0]
    unmatched = [0]

    def record(entry: dict[str, Any]) -> None:
        with open(plan["out"], "a") as out:
            out.write(json.dumps(entry) + "\n")

    def after_cell(result: Any) -> None:
        source = result.info.raw_cell if result.info is not None else None
        if position[0] >= len(cells) or source != cells[position[0]][1]:
            if unmatched[0] < 10:  # not a notebook cell (a magic's own run_cell), or a harness bug: say which
                unmatched[0] += 1
                record({"unmatched": (source or "")[:200], "expected_cell": cells[min(position[0], len(cells) - 1)][0]})
            return
        index = cells[position[0]][0]
        position[0] += 1
        if index in wanted:
            record(
                {"cell": index, "values": {name: fingerprint_or_error(shell.user_ns, name) for name in wanted[index]}}
            )

    shell.events.register("post_run_cell", after_cell)
    record({"installed": True})


def fingerprint_or_error(namespace: dict[str, Any], name: str) -> dict[str, Any]:
    """{"parts": fingerprint} or {"missing": true} or {"uncomparable": why} for one variable."""
    if name not in namespace:
        return {"missing": True}
    try:
        parts = fingerprint(namespace[name])
    except Exception as exc:  # noqa: BLE001 - a value we can't walk is reported, not compared
        return {"uncomparable": f"fingerprinting raised {type(exc).__name__}: {exc}"}
    if parts is None:
        return {"uncomparable": f"more than {MAX_NODES} objects"}
    return {"parts": parts}
