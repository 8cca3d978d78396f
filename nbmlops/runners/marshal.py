"""Values that cross step boundaries, saved by type and content-hashed.

DataFrame -> Parquet, ndarray -> .npy, scikit-learn estimators -> joblib, JSON-able -> JSON,
anything else -> cloudpickle. Heavy libraries are imported only when a value of theirs shows up.

A set pickles in the order of its elements' hashes, and strings hash differently in every process
(PYTHONHASHSEED), so the same value would give different bytes -- and a different content hash, a step-cache
miss downstream -- in every run. Pickles and joblib files are therefore written with sets' elements sorted;
they load with the ordinary `pickle.loads` / `joblib.load`.
"""

from __future__ import annotations

import json
import math
import os
import types
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.digest import sha256_hex
from nbmlops.errors import NbmlopsError

EXTENSIONS = {
    "parquet": ".parquet",
    "npy": ".npy",
    "joblib": ".joblib",
    "json": ".json",
    "pickle": ".pkl",
    "module": ".module",
}


class MarshalError(NbmlopsError):
    """A value that crosses a step boundary but can't be saved or loaded."""


class StoredValue(NamedTuple):  # a NamedTuple: cheaper than a dataclass to create at import, same fields
    name: str
    file: str  # relative to the step's outputs folder
    format: str
    sha256: str
    type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _mro_names(value: Any) -> set[str]:
    """`package.ClassName` for each class in the value's MRO (pandas 3 says `pandas.DataFrame`, 2 a deeper path)."""
    return {f"{c.__module__.split('.')[0]}.{c.__name__}" for c in type(value).__mro__}


def is_json_value(value: Any, depth: int = 0) -> bool:
    """True when JSON gives back exactly this value (no tuples, no NaN, only str keys)."""
    if depth > 50:
        return False
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_json_value(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and is_json_value(v, depth + 1) for k, v in value.items())
    return False


def choose_format(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return "module"  # `import x` in one step, used in another: import it again there
    mro = _mro_names(value)
    if "pandas.DataFrame" in mro:
        return "parquet"
    if "numpy.ndarray" in mro and type(value).__module__ == "numpy" and not value.dtype.hasobject:
        return "npy"
    if "sklearn.BaseEstimator" in mro:
        return "joblib"
    if is_json_value(value):
        return "json"
    return "pickle"


def _write(value: Any, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        value.to_parquet(path, engine="pyarrow")
    elif fmt == "npy":
        import numpy as np

        with open(path, "wb") as handle:  # a file handle: np.save would add ".npy" to our temporary name
            np.save(handle, value, allow_pickle=False)
    elif fmt == "joblib":
        _joblib_dump(value, path)
    elif fmt == "json":
        path.write_text(json.dumps(value))
    elif fmt == "module":
        path.write_text(value.__name__)
    else:
        path.write_bytes(pickle_bytes(value))


# --- pickles whose bytes don't depend on the process's string hashing --------------------------------------

_PLAIN_KINDS = (frozenset({str}), frozenset({bytes}), frozenset({int}), frozenset({bool}), frozenset({int, bool}))


def _order_key(value: Any) -> tuple:
    """A total order on hashable values that is the same in every process: by type, then by value."""
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if kind in (str, bytes, int, bool):
        return (name, value)
    if kind is float:
        return (name, (1, 0.0) if value != value else (0, value))  # NaN last, not unordered
    if kind is tuple:
        return (name, tuple(_order_key(v) for v in value))
    if kind is frozenset:
        return (name, tuple(sorted(_order_key(v) for v in value)))
    if value is None:
        return (name, ())
    return (name, repr(value))  # anything else: by its repr (equal reprs keep the set's own order)


def _set_elements(value: set | frozenset) -> list:
    """The elements of a set in an order that doesn't depend on string hashing (PYTHONHASHSEED)."""
    if frozenset(map(type, value)) in _PLAIN_KINDS:
        return sorted(value)  # all strings, all bytes, all ints: their own order is total
    try:
        return sorted(value, key=_order_key)  # mixed kinds, floats (NaN), frozensets (`<` is only a partial order)
    except Exception:  # noqa: BLE001 - e.g. a repr that raises: the set's own order, as pickle has it
        return list(value)


def _save_set(pickler: Any, obj: set) -> None:
    """pickle._Pickler.save_set, with the elements sorted: the same opcodes, so any unpickler loads it."""
    import pickle

    items = _set_elements(obj)
    if pickler.proto < 4:
        pickler.save_reduce(set, (items,), obj=obj)
        return
    pickler.write(pickle.EMPTY_SET)
    pickler.memoize(obj)
    batch = pickler._BATCHSIZE
    for start in range(0, len(items), batch):
        pickler.write(pickle.MARK)
        for item in items[start : start + batch]:
            pickler.save(item)
        pickler.write(pickle.ADDITEMS)


def _save_frozenset(pickler: Any, obj: frozenset) -> None:
    """pickle._Pickler.save_frozenset, with the elements sorted."""
    import pickle

    items = _set_elements(obj)
    if pickler.proto < 4:
        pickler.save_reduce(frozenset, (items,), obj=obj)
        return
    pickler.write(pickle.MARK)
    for item in items:
        pickler.save(item)
    if id(obj) in pickler.memo:  # reached again through its own elements: take it from the memo
        pickler.write(pickle.POP_MARK + pickler.get(pickler.memo[id(obj)][0]))
        return
    pickler.write(pickle.FROZENSET)
    pickler.memoize(obj)


def _reduce_set_subclass(obj: Any) -> Any:
    """A subclass of set/frozenset with the default reduction (`cls, (list(self),), state`): sorted elements."""
    cls = type(obj)
    if cls.__reduce_ex__ is not object.__reduce_ex__ or cls.__reduce__ not in (set.__reduce__, frozenset.__reduce__):
        return NotImplemented
    cls_, _, *rest = obj.__reduce__()
    return (cls_, (_set_elements(obj),), *rest)


_ATOMS = frozenset({str, int, float, bool, bytes, type(None), list, tuple, dict})
_PROBE_OBJECTS = 10_000
_picklers: dict[str, Any] = {}  # made on first use: most steps never write a pickle


def _cloudpicklers() -> dict[str, Any]:
    """fast: cloudpickle's C pickler (set subclasses sorted); it writes a set or frozenset in hash order and
    can't be told otherwise (C pickles those before asking reducer_override).
    probe: the same, raising _SetFound at the first set (see _holds_a_set).
    sorted: pickle's pure-Python pickler with cloudpickle's reducers, sets sorted -- slower, so used only for
    values that hold a set."""
    if "fast" not in _picklers:
        import pickle

        import cloudpickle

        cloud_reduce = cloudpickle.Pickler.reducer_override

        def reducer_override(self: Any, obj: Any) -> Any:
            kind = type(obj)
            if kind in _ATOMS:  # the Python pickler asks about every object: the common ones, quickly
                return NotImplemented
            if isinstance(obj, set | frozenset) and kind is not set and kind is not frozenset:  # a subclass
                reduced = _reduce_set_subclass(obj)
                if reduced is not NotImplemented:
                    return reduced
            return cloud_reduce(self, obj)

        members = {
            name: member
            for name, member in vars(cloudpickle.Pickler).items()
            if isinstance(member, types.FunctionType) and name.startswith("_") and not name.startswith("__")
        }  # _function_reduce and the helpers it calls

        def __init__(self: Any, file: Any, protocol: int) -> None:
            pickle._Pickler.__init__(self, file, protocol)
            self.globals_ref = {}

        dispatch = dict(pickle._Pickler.dispatch)
        dispatch[set], dispatch[frozenset] = _save_set, _save_frozenset
        _picklers["sorted"] = type(
            "_SortedSetsCloudPickler",
            (pickle._Pickler,),
            {
                **members,
                "__init__": __init__,
                "dispatch": dispatch,
                "reducer_override": reducer_override,
                "dispatch_table": cloudpickle.Pickler.dispatch_table,
            },
        )
        _picklers["fast"] = fast = type("_CloudPickler", (cloudpickle.Pickler,), {"reducer_override": reducer_override})

        def persistent_id(self: Any, obj: Any) -> None:
            kind = type(obj)
            if kind is set or kind is frozenset:
                raise _SetFound
            self.budget -= 1
            if self.budget < 0:
                raise _ManyObjects

        _picklers["probe"] = type("_SetProbe", (fast,), {"persistent_id": persistent_id})
    return _picklers


def _dump(pickler: type, value: Any, protocol: int) -> bytes:
    import io

    with io.BytesIO() as buffer:
        pickler(buffer, protocol=protocol).dump(value)
        return buffer.getvalue()


class _SetFound(Exception):
    pass


class _ManyObjects(Exception):
    pass


class _Discard:
    def write(self, data: Any) -> int:
        return len(data)


def _holds_a_set(picklers: dict[str, Any], value: Any) -> bool:
    """Whether pickling `value` pickles a set or frozenset.
    The probe pickler sees every object (persistent_id), arrays' data left out -- for a value of a few objects;
    after _PROBE_OBJECTS objects, protocol 3 instead, which pickles a set as a call of the global builtins.set:
    text that data can't be mistaken for (unlike protocol 4's one-byte opcodes), at C speed."""
    probe = picklers["probe"](_Discard(), protocol=5, buffer_callback=_out_of_band)
    probe.budget = _PROBE_OBJECTS
    try:
        probe.dump(value)
        return False
    except _SetFound:
        return True
    except Exception:  # noqa: BLE001 - _ManyObjects, or the probe can't tell: protocol 3
        pass
    try:
        text = _dump(picklers["fast"], value, 3)
    except Exception:  # noqa: BLE001 - e.g. a PickleBuffer (protocol 5 only): can't tell, so assume one
        return True
    return b"cbuiltins\nset\n" in text or b"cbuiltins\nfrozenset\n" in text


def _out_of_band(_buffer: Any) -> bool:
    return False


def pickle_bytes(value: Any) -> bytes:
    """cloudpickle's bytes for `value`; a value that holds sets gives the same bytes in every process."""
    import cloudpickle

    picklers, protocol = _cloudpicklers(), cloudpickle.DEFAULT_PROTOCOL
    data = _dump(picklers["fast"], value, protocol)
    # no EMPTY_SET or FROZENSET opcode byte: no set in it. Those bytes in data (a float, an array, UTF-8 text)
    # make a false alarm, which the probe settles
    if b"\x8f" not in data and b"\x91" not in data or not _holds_a_set(picklers, value):
        return data
    try:
        return _dump(picklers["sorted"], value, protocol)
    except Exception:  # noqa: BLE001 - e.g. too deep for the Python pickler: C's bytes load the same
        return data


class NotebookDefined(Exception):
    """joblib would save a class or function of the notebook by reference (`__main__.MyEstimator`), which
    another step's kernel can't load: the value goes to cloudpickle, which saves those by value."""


def _joblib_dump(value: Any, path: Path) -> None:
    """joblib.dump(value, path) (uncompressed: one file), with sets sorted (joblib's pickler is pickle's
    Python one, so sets get its save_set: a scikit-learn attribute such as CountVectorizer.stop_words_).
    Raises NotebookDefined for a value that holds anything the notebook defined."""
    if "joblib" not in _picklers:
        from joblib.numpy_pickle import NumpyPickler

        def save_global(self: Any, obj: Any, name: str | None = None) -> None:
            if getattr(obj, "__module__", None) == "__main__":
                raise NotebookDefined(f"{type_name(obj)} is defined in the notebook")
            NumpyPickler.save_global(self, obj, name)

        dispatch = dict(NumpyPickler.dispatch)
        dispatch[set], dispatch[frozenset] = _save_set, _save_frozenset
        dispatch[types.FunctionType] = save_global
        _picklers["joblib"] = type(
            "_SortedSetsNumpyPickler", (NumpyPickler,), {"dispatch": dispatch, "save_global": save_global}
        )
    with open(path, "wb") as handle:
        _picklers["joblib"](handle).dump(value)


def save_value(name: str, value: Any, directory: Path) -> StoredValue:
    """Save `value` under `directory` in the format its type calls for; fall back to cloudpickle."""
    directory.mkdir(parents=True, exist_ok=True)
    fmt = choose_format(value)
    errors = []
    for attempt in dict.fromkeys([fmt, "pickle"]):
        path = directory / f"{name}{EXTENSIONS[attempt]}"
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            _write(value, attempt, tmp)
        except Exception as exc:  # noqa: BLE001 - any library error means: try the general format
            tmp.unlink(missing_ok=True)
            errors.append(f"{attempt}: {type(exc).__name__}: {exc}")
            continue
        os.replace(tmp, path)
        data = path.read_bytes()
        return StoredValue(name, path.name, attempt, sha256_hex(data), type_name(value), len(data))
    raise MarshalError(
        f"'{name}' ({type_name(value)}) can't be saved to pass to another step ("
        + "; ".join(errors)
        + "). Convert it to a value that can (a DataFrame, an array, a dict, ...) "
        "before the step ends, or put the cells that make it and the cells that read it in one step"
    )


def load_value(stored: StoredValue, directory: Path) -> Any:
    path = directory / stored.file
    try:
        if stored.format == "parquet":
            import pandas as pd

            return pd.read_parquet(path, engine="pyarrow")
        if stored.format == "npy":
            import numpy as np

            return np.load(path, allow_pickle=False)
        if stored.format == "joblib":
            import joblib

            return joblib.load(path)
        if stored.format == "json":
            return json.loads(path.read_text())
        if stored.format == "module":
            import importlib

            return importlib.import_module(path.read_text())
        import cloudpickle  # registers what cloudpickled objects need to load; its loads is pickle's

        return cloudpickle.loads(path.read_bytes())
    except FileNotFoundError:
        raise MarshalError(f"'{stored.name}': its stored file {path} is missing") from None


def bind_to_namespace(value: Any, namespace: dict[str, Any]) -> Any:
    """A notebook function or class used in another step must see that step's globals, as a top-to-bottom
    run would: rebind functions defined in notebook code (and class methods) to `namespace`."""
    if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
        bound = types.FunctionType(value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__)
        bound.__kwdefaults__ = value.__kwdefaults__
        bound.__dict__.update(value.__dict__)
        bound.__qualname__ = value.__qualname__
        bound.__doc__ = value.__doc__
        bound.__annotations__ = value.__annotations__
        return bound
    if not isinstance(value, type) and type(value).__module__ == "__main__":
        bind_to_namespace(type(value), namespace)  # an instance of a notebook class: its methods too
        return value
    if isinstance(value, type) and value.__module__ == "__main__":
        for attr, member in list(vars(value).items()):
            if isinstance(member, types.FunctionType):
                setattr(value, attr, bind_to_namespace(member, namespace))
            elif isinstance(member, staticmethod | classmethod):
                setattr(value, attr, type(member)(bind_to_namespace(member.__func__, namespace)))
            elif isinstance(member, property):
                setattr(
                    value,
                    attr,
                    property(
                        *(
                            bind_to_namespace(f, namespace) if f else None
                            for f in (member.fget, member.fset, member.fdel)
                        ),
                        member.__doc__,
                    ),
                )
    return value
